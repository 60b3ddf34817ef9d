"""DICOM rendering: generated datasets for every pixel-handling rule (modality LUT, window values,
VOI LUT sequence and function, MONOCHROME1, Presentation LUT INVERSE, BitsStored masking, signed
pixels, colour, multi-frame, no file meta, compressed and deflated syntaxes) and the real
radiographs in ../shared/data/dicom and pydicom-data, compared with pydicom's own windowing."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
)

from core.imaging.dicom import is_dicom
from core.imaging.reader import apply_window, read_image
from core.results import DicomMeta
from tests.core.imaging import factory

PH16 = factory.phantom(dtype=np.uint16, hi=4000)  # 12-bit values, bone band ≈ 3800, background lower


def linear(values: np.ndarray) -> np.ndarray:
    v = values.astype(float)
    return np.rint((v - v.min()) / (v.max() - v.min()) * 255).astype(np.uint8)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


def bone_vs_background(grey: np.ndarray) -> tuple[float, float]:
    h, w = grey.shape
    return float(grey[:, int(w * 0.4) : int(w * 0.5)].mean()), float(grey[h // 2 :, int(w * 0.8) :].mean())


def test_monochrome2_without_window_uses_data_range():
    img = read_image(factory.dicom(PH16), name="x.dcm")
    assert img.format == "DICOM" and (img.width, img.height) == (80, 96)
    assert np.abs(img.grey.astype(int) - linear(PH16)).max() <= 1
    assert not img.inverted and "no window in the file: shown over its data range" in img.notes
    bone, background = bone_vs_background(img.grey)
    assert bone > background + 60


def test_monochrome1_is_inverted_so_bone_is_bright():
    stored = (4095 - PH16).astype(np.uint16)  # MONOCHROME1: bone stored dark
    img = read_image(factory.dicom(stored, photometric="MONOCHROME1", bits_stored=12))
    assert img.inverted
    assert np.abs(img.grey.astype(int) - linear(PH16)).max() <= 1
    bone, background = bone_vs_background(img.grey)
    assert bone > background + 60


def test_presentation_lut_inverse_inverts_monochrome2():
    stored = (4095 - PH16).astype(np.uint16)
    img = read_image(factory.dicom(stored, bits_stored=12, PresentationLUTShape="INVERSE"))
    assert img.inverted and np.abs(img.grey.astype(int) - linear(PH16)).max() <= 1


def test_rescale_and_first_of_multiple_windows_match_pydicom():
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    signed = (PH16.astype(np.int16) - 2000).astype(np.int16)  # -2000..1800: signed pixels
    data = factory.dicom(signed, bits_stored=12, RescaleSlope=2, RescaleIntercept=-100,
                         WindowCenter=[500, 40], WindowWidth=[3000, 400])
    img = read_image(data, keep_raw=True)
    assert img.window == (500.0, 3000.0)
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(data))
    mod = apply_modality_lut(ds.pixel_array, ds)
    assert np.allclose(img.raw, mod)  # raw = modality values (slope/intercept applied)
    ref = apply_voi_lut(mod, ds)  # pydicom's own windowing, output over its own y range
    assert mod.min() < 500 - 1500 and mod.max() > 500 + 1500  # both ends clipped: ref spans that range
    ref = (ref - ref.min()) / (ref.max() - ref.min()) * 255
    assert np.abs(img.grey.astype(float) - ref).max() <= 1.0
    # the viewer's apply_window reproduces grey from raw
    assert np.array_equal(apply_window(img.raw, *img.window, img.inverted), img.grey)


def test_voi_lut_sequence_is_used_before_window_values():
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    lut = np.rint(np.sqrt(np.arange(4096) / 4095.0) * 65535).astype(np.uint16)
    item.add_new(0x00283006, "OW", lut.tobytes())  # LUTData
    data = factory.dicom(PH16, bits_stored=12, VOILUTSequence=Sequence([item]), WindowCenter=10, WindowWidth=5)
    img = read_image(data)
    expected = np.rint(np.sqrt(PH16 / 4095.0) * 255)
    assert np.abs(img.grey.astype(float) - expected).max() <= 1
    assert img.window is None and "windowed with the file's VOI LUT" in img.notes


def test_sigmoid_voi_lut_function():
    data = factory.dicom(PH16, bits_stored=12, WindowCenter=2000, WindowWidth=1000, VOILUTFunction="SIGMOID")
    img = read_image(data)
    expected = 255 / (1 + np.exp(-4 * (PH16.astype(float) - 2000) / 1000))
    assert np.abs(img.grey - expected).max() <= 1 and img.window_function == "SIGMOID"


def test_bits_stored_masks_high_bits():
    import pydicom
    from pydicom.filebase import DicomBytesIO

    clean = (PH16 // 4).astype(np.uint16)  # 10-bit values
    data = factory.dicom(clean, bits_stored=10)
    ds = pydicom.dcmread(DicomBytesIO(data))
    ds.PixelData = (clean | np.uint16(0xF000)).tobytes()  # garbage above HighBit
    buf = DicomBytesIO()
    ds.save_as(buf)
    assert np.array_equal(read_image(buf.getvalue()).grey, read_image(data).grey)


def test_multiframe_first_frame_noted():
    frames = np.stack([PH16, 4095 - PH16, PH16 // 2]).astype(np.uint16)
    img = read_image(factory.dicom(frames, bits_stored=12))
    assert img.grey.shape == (96, 80) and np.abs(img.grey.astype(int) - linear(PH16)).max() <= 1
    assert "first frame of 3 (multi-frame DICOM)" in img.notes


def test_multiframe_compressed_decodes_only_first_frame(monkeypatch):
    import pydicom.pixels

    seen = []
    real = pydicom.pixels.pixel_array

    def spy(src, **kw):
        seen.append(kw.get("index"))
        return real(src, **kw)

    monkeypatch.setattr(pydicom.pixels, "pixel_array", spy)
    frames = np.stack([PH16, 4095 - PH16]).astype(np.uint16)
    img = read_image(factory.dicom(frames, bits_stored=12, compress=RLELossless))
    assert seen == [0]  # one call, for frame 0 only (core.imaging.dicom imports pixel_array lazily)
    assert np.abs(img.grey.astype(int) - linear(PH16)).max() <= 1


def test_rgb_dicom_becomes_grey():
    rgb = np.stack([factory.phantom()] * 3, axis=-1)
    img = read_image(factory.dicom(rgb, photometric="RGB"))
    assert np.abs(img.grey.astype(int) - factory.phantom().astype(int)).max() <= 1
    assert "colour image converted to grey" in img.notes and not img.inverted


@pytest.mark.parametrize("layout", ["no-meta", "no-preamble", "no-extension"])
def test_files_without_meta_or_extension_are_found_by_content(layout):
    kw = {"no-meta": {"file_meta": False}, "no-preamble": {"preamble": False}, "no-extension": {}}[layout]
    data = factory.dicom(PH16, bits_stored=12, **kw)
    assert is_dicom(data[:1024])
    img = read_image(data, name="IMG0001")
    assert np.abs(img.grey.astype(int) - linear(PH16)).max() <= 1
    assert any("no DICOM file meta header" in n for n in img.notes) == (layout == "no-meta")


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, DeflatedExplicitVRLittleEndian])
def test_compressed_and_deflated_syntaxes(syntax):
    if syntax == DeflatedExplicitVRLittleEndian:
        data = factory.dicom(PH16, bits_stored=12, syntax=syntax)
    else:
        data = factory.dicom(PH16, bits_stored=12, compress=syntax)
    assert np.abs(read_image(data).grey.astype(int) - linear(PH16)).max() <= 1


def test_jpeg_baseline_encapsulated():
    ph = factory.phantom()
    data = factory.dicom(ph, syntax=JPEGBaseline8Bit, encapsulated_frames=[factory.jpeg(ph)])
    img = read_image(data)
    assert np.abs(img.grey.astype(float) - linear(ph)).mean() < 4


def test_identifiers_only_on_screen():
    img = read_image(factory.dicom(PH16))
    assert img.meta.dicom == DicomMeta("1.2.3.4.5", "1.2.3.4.5.6", img.meta.dicom.sop_uid, "DX", "HAND", "PA")
    assert img.screen_only == {"PatientName": "Doe^Jane", "PatientID": "PID-4711",
                               "PatientBirthDate": "19700101", "StudyDate": "20240102"}
    for text in (repr(img), repr(img.meta), str(img.notes)):
        assert "Doe" not in text and "PID-4711" not in text and "1970" not in text


# --- real radiographs -------------------------------------------------------------------------

SHARED = ["966_fixed.dcm", "RG1_JLSN.dcm", "RG2_JLSL.dcm", "RG2_JLSN.dcm", "RG2_JPLL.dcm", "RG2_JPLY_fixed.dcm"]
PYDICOM_DATA = ["RG3_UNCR.dcm", "RG3_J2KR.dcm", "RG1_UNCR.dcm", "RG1_J2KR.dcm", "RG1_J2KI.dcm"]


def pydicom_reference(data: bytes) -> np.ndarray:
    """pydicom's own rendering: modality LUT, VOI LUT/window, inverted for MONOCHROME1/INVERSE."""
    import pydicom
    from pydicom.filebase import DicomBytesIO
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    ds = pydicom.dcmread(DicomBytesIO(data))
    out = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds).astype(float)
    if ds.PhotometricInterpretation == "MONOCHROME1" or ds.get("PresentationLUTShape") == "INVERSE":
        out = -out
    return out


def check_real(data: bytes, name: str) -> None:
    img = read_image(data, name=name)
    assert img.grey.dtype == np.uint8 and img.grey.shape == (img.height, img.width)
    assert img.meta.dicom is not None and img.meta.dicom.modality in ("CR", "DX")
    assert corr(img.grey, pydicom_reference(data)) > 0.99
    assert img.grey.std() > 20  # not blank or saturated


@pytest.mark.parametrize("name", SHARED)
def test_shared_radiographs(shared_data, name):
    check_real((shared_data / "dicom" / name).read_bytes(), name)


@pytest.mark.parametrize("name", PYDICOM_DATA)
def test_pydicom_data_radiographs(name):
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} not installed (pip install pydicom-data)")
    with open(path, "rb") as fh:
        check_real(fh.read(), name)


def test_monochrome1_chest_has_bright_bone(shared_data):
    img = read_image((shared_data / "dicom" / "RG1_JLSN.dcm").read_bytes())
    assert img.inverted
    h, w = img.grey.shape
    spine = img.grey[h // 3 : 2 * h // 3, w // 2 - w // 40 : w // 2 + w // 40].mean()
    lung = img.grey[h // 3 : 2 * h // 3, w // 4 - w // 20 : w // 4 + w // 20].mean()
    assert spine > lung + 30  # spine bright, aerated lung dark


def test_is_dicom_sniffing():
    assert is_dicom(factory.dicom()[:1024])
    assert is_dicom(factory.dicom(file_meta=False)[:1024])  # implicit VR, no preamble
    assert is_dicom(factory.dicom(preamble=False)[:1024])  # group 0002 first, explicit VR
    assert not is_dicom(factory.jpeg()[:1024])
    assert not is_dicom(b"")
    assert not is_dicom(b"\x08\x00\x05\x00" + b"\xff" * 60)  # group 8 then an absurd length
    assert not is_dicom(b"hello world, this is text" * 10)
    rng = np.random.default_rng(0)
    assert sum(is_dicom(rng.bytes(1024)) for _ in range(2000)) == 0


def _headerless(first_group: int, explicit: bool = False) -> bytes:
    """A dataset without file meta whose first element is in ``first_group`` (no group 0008 at all:
    minimal or anonymised exports), group 0028 within its first four elements."""
    import io

    from pydicom.dataset import Dataset
    from pydicom.filewriter import dcmwrite

    ds = Dataset()
    if first_group <= 0x0010:
        ds.PatientSex = "F"
    if first_group <= 0x0020:
        ds.StudyInstanceUID = "1.2.3.4.5"
        ds.SeriesInstanceUID = "1.2.3.4.5.6"
    ds.set_pixel_data(factory.phantom(dtype=np.uint16, hi=4000), "MONOCHROME2", 12)
    del ds.file_meta
    for elem in [e for e in ds if e.tag.group == 0x0008]:  # set_pixel_data adds an SOP Instance UID
        del ds[elem.tag]
    buf = io.BytesIO()
    dcmwrite(buf, ds, implicit_vr=not explicit, little_endian=True)
    return buf.getvalue()


@pytest.mark.parametrize("first_group", [0x0010, 0x0020, 0x0028])
@pytest.mark.parametrize("explicit", [False, True])
def test_is_dicom_accepts_headerless_dataset_whose_group_0028_comes_early(first_group, explicit):
    data = _headerless(first_group, explicit)
    assert int.from_bytes(data[:2], "little") == first_group
    assert is_dicom(data[:1024])
    img = read_image(data, name="IM0001")
    assert img.format == "DICOM" and (img.width, img.height) == (80, 96)


def test_is_dicom_still_rejects_early_groups_without_image_description():
    import struct

    # group 0010 then group 0032: consistent, but nothing says it is an image
    data = struct.pack("<HHI", 0x0010, 0x0010, 4) + b"Doe^" + struct.pack("<HHI", 0x0032, 0x1060, 4) + b"ABCD"
    assert not is_dicom(data + b"\0" * 100)
    # group 0028 elements out of order
    data = struct.pack("<HHI", 0x0028, 0x0011, 2) + b"\0\1" + struct.pack("<HHI", 0x0028, 0x0010, 2) + b"\0\1"
    assert not is_dicom(data + b"\0" * 100)


def test_jpeg_frame_size_parser_is_our_own():
    """The codestream size check must not rely on pydicom's private ``_get_jpg_parameters``."""
    import inspect

    from core.imaging import codestream, dicom

    assert "_get_jpg_parameters" not in inspect.getsource(dicom) + inspect.getsource(codestream)
    jpg = factory.jpeg(np.zeros((960, 800), np.uint8))
    assert codestream.jpeg_frame_size(jpg) == (800, 960)
    prog = factory.jpeg(np.zeros((33, 45), np.uint8), progressive=True)
    assert codestream.jpeg_frame_size(prog) == (45, 33)
    assert codestream.jpeg_frame_size(b"\xff\xd8\xff\xda\x00\x02") is None
    assert codestream.jpeg_frame_size(b"garbage") is None
    assert codestream.jpeg_frame_size(jpg[:20]) is None
