"""Builders for the image files the imaging tests need (all generated in memory: Pillow, pydicom,
numpy), so the tests carry no binary fixtures."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def phantom(h: int = 96, w: int = 80, *, hi: int = 255, dtype=np.uint8) -> np.ndarray:
    """A 'radiograph': dark background, a bright vertical 'bone' band and a gradient, so windowing,
    inversion and orientation mistakes all show."""
    y, x = np.mgrid[0:h, 0:w]
    img = 0.15 + 0.35 * (y / max(h - 1, 1))
    img = np.where((x > w * 0.35) & (x < w * 0.55), 0.95, img)
    img[: h // 8, : w // 8] = 0.0  # dark corner marks top-left
    return np.rint(img * hi).astype(dtype)


def pil_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg(arr: np.ndarray | None = None, *, mode: str = "L", **kw) -> bytes:
    arr = phantom() if arr is None else arr
    img = Image.fromarray(arr, "L")
    if mode != "L":
        img = img.convert(mode)
    kw.setdefault("quality", 95)
    return pil_bytes(img, "JPEG", **kw)


def png_bomb_header(width: int, height: int) -> bytes:
    """A valid-looking PNG whose IHDR claims width×height, with one tiny IDAT (a bomb's header)."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def dicom(
    pixels: np.ndarray | None = None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    syntax=None,
    file_meta: bool = True,
    preamble: bool = True,
    compress=None,
    encapsulated_frames: list[bytes] | None = None,
    no_pixels: bool = False,
    **attrs,
) -> bytes:
    """A DX radiograph DICOM around ``pixels`` ((H,W), (F,H,W) or (H,W,3)); ``attrs`` are set as
    keywords (WindowCenter=..., RescaleSlope=..., PatientName=...)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.filewriter import dcmwrite
    from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.SOPClassUID = attrs.pop("SOPClassUID", DigitalXRayImageStorageForPresentation)
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = "1.2.3.4.5"
    ds.SeriesInstanceUID = "1.2.3.4.5.6"
    ds.Modality = attrs.pop("Modality", "DX")
    ds.BodyPartExamined = "HAND"
    ds.ViewPosition = "PA"
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "PID-4711"
    ds.PatientBirthDate = "19700101"
    ds.StudyDate = "20240102"
    if not no_pixels:
        if encapsulated_frames is not None:
            arr = pixels
            ds.Rows, ds.Columns = arr.shape[-2], arr.shape[-1]
            ds.SamplesPerPixel = 1 if photometric.startswith("MONO") else 3
            ds.PhotometricInterpretation = photometric
            ds.BitsAllocated = 8 if arr.dtype == np.uint8 else 16
            ds.BitsStored = bits_stored or ds.BitsAllocated
            ds.HighBit = ds.BitsStored - 1
            ds.PixelRepresentation = 0
            if ds.SamplesPerPixel == 3:
                ds.PlanarConfiguration = 0
            if len(encapsulated_frames) > 1:
                ds.NumberOfFrames = len(encapsulated_frames)
            ds.PixelData = encapsulate(encapsulated_frames)
            ds["PixelData"].VR = "OB"
        else:
            pixels = phantom(dtype=np.uint16, hi=4000) if pixels is None else pixels
            ds.set_pixel_data(pixels, photometric, bits_stored or pixels.dtype.itemsize * 8)
    for key, value in attrs.items():
        setattr(ds, key, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = syntax or ExplicitVRLittleEndian
    if compress is not None:
        ds.compress(compress)
    buf = io.BytesIO()
    if file_meta:
        dcmwrite(buf, ds, enforce_file_format=True)
        data = buf.getvalue()
        return data if preamble else data[128 + 4 :]
    del ds.file_meta
    dcmwrite(buf, ds, implicit_vr=True, little_endian=True)
    return buf.getvalue()


def dicom_with_invalid_uid() -> bytes:
    """A radiograph whose Study Instance UID holds non-ASCII bytes: pydicom warns about it on reading
    (a UserWarning quoting the raw value and a URL)."""
    data = dicom()
    at = data.find(b"1.2.3.4.5\x00")
    return data[:at] + b"1.2.\x81\xfe4.5\x00" + data[at + 10:]


def jpeg_with_corrupt_exif(arr: np.ndarray | None = None) -> bytes:
    """A JPEG with a broken EXIF block: Pillow warns "Corrupt EXIF data" while reading it."""
    data = jpeg(arr)
    exif = b"Exif\x00\x00" + b"II*\x00\xff\xff\x00\x00"
    return data[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif + data[2:]
