"""Hostile and broken files: every failure class becomes a FileError with its specific kind and a
human-readable reason, bombs and absurd sizes are refused from the header before pixel memory is
allocated, and nothing else ever escapes ``read_image``."""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
import pytest
from PIL import Image, ImageFile
from pydicom.uid import JPEG2000Lossless, MPEG2MPML, BasicTextSRStorage, RLELossless

from core.imaging.errors import FileError
from core.imaging.reader import read_image
from tests.core.imaging import factory

BIG = np.asarray(Image.fromarray(factory.phantom()).resize((400, 480)))


def fails(data: bytes, kind: str, *fragments: str, name: str = "") -> FileError:
    with pytest.raises(FileError) as info:
        read_image(data, name=name)
    err = info.value
    assert err.kind == kind, (err.kind, str(err))
    for fragment in fragments:
        assert fragment in str(err), str(err)
    assert str(err) == err.reason and len(str(err)) < 300
    return err


def dicom_edit(data: bytes, **changes) -> bytes:
    import pydicom
    from pydicom.filebase import DicomBytesIO

    ds = pydicom.dcmread(DicomBytesIO(data))
    for key, value in changes.items():
        setattr(ds, key, value)
    buf = DicomBytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def test_empty_file():
    fails(b"", FileError.NOT_AN_IMAGE, "empty file")


def test_random_bytes():
    fails(np.random.default_rng(1).bytes(5000), FileError.NOT_AN_IMAGE, "not an image file")


def test_text_file_named_jpg():
    fails(b"Patient list\nnot an image at all\n" * 20, FileError.NOT_AN_IMAGE, "not an image file", "text",
          name="scan.jpg")


def test_truncated_jpeg():
    data = factory.jpeg(BIG)
    fails(data[: int(len(data) * 0.02)], FileError.TRUNCATED, "truncated JPEG")
    fails(data[: int(len(data) * 0.15)], FileError.TRUNCATED, "truncated JPEG", "of the image is in the file")


@pytest.mark.parametrize("cut", [0.6, 0.9])
def test_partly_truncated_jpeg_is_read_with_a_note(cut):
    """Most of the image is there (like 43 FracAtlas files): decoded, the missing rows grey, and said."""
    data = factory.jpeg(BIG)
    img = read_image(data[: int(len(data) * cut)], name="cut.jpg")
    assert img.grey.shape == BIG.shape[:2]
    assert any(n.startswith("truncated file") for n in img.notes)
    assert (img.grey[-1] == 128).all()


def test_jpeg_cut_inside_header():
    fails(factory.jpeg(BIG)[:200], FileError.TRUNCATED, "truncated JPEG")


def test_truncated_png():
    data = factory.pil_bytes(Image.fromarray(BIG), "PNG")
    fails(data[: len(data) // 2], FileError.TRUNCATED, "truncated PNG")
    fails(data[:40], FileError.TRUNCATED, "truncated PNG")


def test_corrupt_png_data():
    data = bytearray(factory.pil_bytes(Image.fromarray(BIG), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 4 : idat + 8] = b"\x00\x00\xff\xff"  # broken zlib stream
    err = fails(bytes(data), FileError.CORRUPT, "PNG")
    assert "damaged" in str(err)


def test_unsupported_format():
    fails(factory.pil_bytes(Image.fromarray(factory.phantom()), "GIF"), FileError.UNSUPPORTED, "GIF", "not supported")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("size", [(30000, 30000), (19000, 9000), (25000, 10)])
def test_decompression_bomb_refused_from_header(size, monkeypatch):
    loads = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(1))
    data = factory.png_bomb_header(*size)
    tracemalloc.start()
    start = time.perf_counter()
    fails(data, FileError.TOO_LARGE, f"image {size[0]}×{size[1]} exceeds the size limit")
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert loads == [] and elapsed < 0.5 and peak < 5_000_000


def test_bmp_with_absurd_header():
    header = bytearray(factory.pil_bytes(Image.fromarray(factory.phantom()), "BMP"))
    header[18:22] = (50000).to_bytes(4, "little")
    header[22:26] = (50000).to_bytes(4, "little")
    fails(bytes(header), FileError.TOO_LARGE, "50000×50000 exceeds the size limit")


def test_dicom_structured_report_has_no_pixel_data():
    data = factory.dicom(no_pixels=True, SOPClassUID=BasicTextSRStorage, Modality="SR")
    fails(data, FileError.NO_PIXEL_DATA, "DICOM has no pixel data (structured report)")


def test_dicom_without_pixels_names_its_sop_class():
    from pydicom.uid import RTPlanStorage

    fails(factory.dicom(no_pixels=True, SOPClassUID=RTPlanStorage, Modality="RTPLAN"),
          FileError.NO_PIXEL_DATA, "DICOM has no pixel data (RT Plan Storage)")


def test_dicom_transfer_syntax_without_decoder():
    data = factory.dicom(factory.phantom(), syntax=MPEG2MPML, encapsulated_frames=[b"\x00" * 64])
    fails(data, FileError.MISSING_DECODER, "transfer syntax 1.2.840.10008.1.2.4.100",
          "needs a decoder that is not installed")


def test_dicom_decoder_plugin_not_installed(monkeypatch):
    import pydicom.pixels

    class Unavailable:
        is_available = False

    monkeypatch.setattr(pydicom.pixels, "get_decoder", lambda uid: Unavailable())
    data = factory.dicom(factory.phantom(dtype=np.uint16, hi=4000), compress=JPEG2000Lossless)
    fails(data, FileError.MISSING_DECODER,
          "transfer syntax 1.2.840.10008.1.2.4.90 (JPEG 2000 Image Compression (Lossless Only)) needs a decoder "
          "that is not installed (e.g. pylibjpeg-openjpeg)")


def test_dicom_pixel_data_shorter_than_rows_times_columns():
    data = factory.dicom()
    import pydicom
    from pydicom.filebase import DicomBytesIO

    short = dicom_edit(data, PixelData=pydicom.dcmread(DicomBytesIO(data)).PixelData[:1000])
    fails(short, FileError.TRUNCATED, "truncated DICOM", "1,000 bytes", "80×96")


@pytest.mark.parametrize("rows,cols", [(65535, 65535), (30000, 100), (12500, 12500)])
def test_dicom_absurd_rows_columns(rows, cols):
    data = dicom_edit(factory.dicom(), Rows=rows, Columns=cols)
    fails(data, FileError.TOO_LARGE, f"DICOM image {cols}×{rows} exceeds the size limit")


def test_dicom_large_header_with_little_data_is_truncated_not_allocated():
    data = dicom_edit(factory.dicom(), Rows=12000, Columns=12000)
    tracemalloc.start()
    fails(data, FileError.TRUNCATED, "truncated DICOM", "12000×12000")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000_000


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter")
@pytest.mark.parametrize("compress", [None, RLELossless, JPEG2000Lossless])
@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_dicom(compress, cut):
    data = factory.dicom(factory.phantom(dtype=np.uint16, hi=4000), bits_stored=12, compress=compress)
    fails(data[: int(len(data) * cut)], FileError.TRUNCATED, "truncated DICOM")


def test_named_dcm_but_garbage():
    fails(os.urandom(3000), FileError.NOT_AN_IMAGE, "not an image file", name="IMG.dcm")


def test_dicom_with_broken_header_values():
    data = dicom_edit(factory.dicom(), BitsAllocated=12)
    err = fails(data, FileError.CORRUPT, "DICOM")
    assert "inconsistent" in str(err)


def test_library_exceptions_of_every_type_become_file_errors(monkeypatch):
    import core.imaging.reader as reader

    for exc in (ValueError("v"), TypeError("t"), NotImplementedError("n"), AttributeError("a"), KeyError("k"),
                RuntimeError("r"), OSError("o"), MemoryError(), IndexError("i"), ZeroDivisionError("z"),
                RecursionError("deep"), Image.DecompressionBombError("bomb")):
        def boom(*a, _exc=exc, **k):
            raise _exc

        monkeypatch.setattr(reader, "decode_raster", boom)
        with pytest.raises(FileError):
            read_image(factory.jpeg())


def test_file_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(FileError("truncated JPEG", FileError.TRUNCATED)))
    assert err.kind == FileError.TRUNCATED and str(err) == "truncated JPEG"


def test_read_image_accepts_bytearray_and_memoryview():
    data = factory.jpeg()
    assert read_image(bytearray(data)).grey.shape == read_image(memoryview(data)).grey.shape == (96, 80)


def test_pillow_open_is_header_only_for_limits():
    # a header within limits but no pixel data at all: still fails cleanly (truncated), not a crash
    fails(factory.png_bomb_header(4000, 4000), FileError.TRUNCATED, "truncated PNG")


@pytest.mark.parametrize("claim,kind,text", [
    ((30000, 30000), FileError.TOO_LARGE, "compressed DICOM frame 30000×30000 exceeds the size limit"),
    ((800, 960), FileError.CORRUPT, "compressed frame is 800×960 but the header says 80×96"),
])
def test_dicom_jpeg2000_codestream_bigger_than_header(claim, kind, text):
    import struct

    data = bytearray(factory.dicom(factory.phantom(dtype=np.uint16, hi=4000), compress=JPEG2000Lossless))
    at = data.index(b"\xff\x4f\xff\x51")
    struct.pack_into(">II", data, at + 8, *claim)
    fails(bytes(data), kind, text)


def test_dicom_jpeg_baseline_codestream_bigger_than_header():
    from pydicom.uid import JPEGBaseline8Bit

    big = factory.jpeg(np.zeros((960, 800), np.uint8))
    data = factory.dicom(factory.phantom(), syntax=JPEGBaseline8Bit, encapsulated_frames=[big])
    fails(data, FileError.CORRUPT, "compressed frame is 800×960 but the header says 80×96")
