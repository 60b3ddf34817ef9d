"""Pillow-based readers for JPEG (baseline, progressive, grey, RGB, CMYK), PNG (8/16-bit, palette,
RGBA), TIFF (8/16-bit, first page) and BMP, producing a ``DecodedImage``.

JPEGs are decoded straight to greyscale by libjpeg (``draft('L', ...)``; colour JPEGs to YCbCr, whose Y
plane is that same greyscale and whose chroma gives ``colour_share``) and, with ``reduce_to``, at
the smallest DCT scale (1/2, 1/4, 1/8) that keeps the long side ≥ ``reduce_to``. EXIF orientation is
applied. 16-bit and float images are windowed to 8 bits over their own min..max (radiographs exported
as 16-bit PNG/TIFF use their full range; a percentile window would hide real dark/bright detail).
Sizes are checked from the header before any pixel is decoded; Pillow's own decompression-bomb
warning is silenced because our stricter limit (``core.imaging.decoded``) runs first.

Truncated JPEGs (the file ends inside the compressed scan data, as in 43 files of the published
FracAtlas release) are decoded as far as the data goes when at least ``MIN_PRESENT`` of the rows are
there: the missing rows come out mid-grey, and a note says how much is missing, so the image is still
triaged rather than hidden under Errors. Less than that is a "truncated JPEG" file error. (Pillow's
process-wide ``LOAD_TRUNCATED_IMAGES`` is never set: it would also accept damaged PNGs, and it is
not thread-safe; instead the missing end-of-image marker is supplied for this one decode.)
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image

from core.imaging.decoded import DecodedImage, check_dimensions, chroma_share, make_meta, rgb_chroma_share
from core.imaging.errors import FileError
from core.imaging.window import IDENTITY_WINDOW, apply_window, range_window

warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "BMP": "BMP", "DIB": "BMP"}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
MIN_PRESENT = 0.25  # a truncated JPEG with less than this share of its rows is refused
_EOI = b"\xff\xd9"
_COLOUR = ("RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "P", "PA", "LA", "La", "1")


def header_size(data: bytes) -> tuple[int, int] | None:
    """Width/height from the header via Pillow's plugin registry, bypassing Image.open's bomb check
    (used only to word the error for files Pillow itself refuses as decompression bombs)."""
    Image.init()
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        try:
            if accept and not accept(data[:16]):
                continue
            im = factory(io.BytesIO(data), "")
            return im.size
        except Exception:  # noqa: BLE001 - any plugin may fail on any bytes; keep looking
            continue
    return None


def decode_raster(data: bytes, *, reduce_to: int | None = None, keep_raw: bool = False) -> DecodedImage:
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        size = header_size(data)
        if size:
            check_dimensions(*size)
        raise FileError("image exceeds the size limit (decompression bomb)", FileError.TOO_LARGE) from None
    fmt = _FORMATS.get(img.format or "")
    if fmt is None:
        raise FileError(f"{img.format or 'this'} images are not supported (JPEG, PNG, TIFF, BMP, DICOM are)",
                        FileError.UNSUPPORTED)
    full_w, full_h = img.size
    check_dimensions(full_w, full_h)
    notes: list[str] = []
    n_frames = getattr(img, "n_frames", 1) if fmt == "TIFF" else 1
    if n_frames > 1:
        notes.append(f"first page of {n_frames} (multi-page TIFF)")

    colour_share = None
    missing_share = None
    if fmt == "JPEG":
        if img.mode in ("RGB", "L"):
            size = None
            if reduce_to and max(full_w, full_h) > reduce_to:
                k = reduce_to / max(full_w, full_h)
                size = (max(1, math.ceil(full_w * k)), max(1, math.ceil(full_h * k)))
            # a YCbCr JPEG decodes to YCbCr at no extra colour conversion: Y is exactly what 'L' gives,
            # Cb/Cr tell the scope gate whether the picture is coloured
            ycc = img.mode == "RGB" and img.info.get("adobe_transform", 1) != 0
            img.draft("YCbCr" if ycc else "L", size)
    try:
        img.load()  # before getexif(): PNG's getexif() loads, and would hide a decoding error
    except OSError as exc:
        if fmt != "JPEG" or "truncated" not in str(exc):
            raise
        img, note, missing_share = _load_truncated_jpeg(data, img.mode, img.size)
        notes.append(note)
    if img.mode == "YCbCr":
        y, cb, cr = img.split()
        colour_share = chroma_share(np.asarray(cb), np.asarray(cr))
        img = y
    elif img.mode in ("RGB", "RGBA", "RGBX", "RGBa", "CMYK", "P", "PA", "YCbCr", "LAB", "HSV"):
        colour_share = _colour_share(img)
    orientation = _orientation(img)
    reduced = img.size != (full_w, full_h)

    raw = None
    window = IDENTITY_WINDOW  # 8-bit images are shown as stored
    mode = img.mode
    if mode == "L":
        pass
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img)
        if arr.dtype.kind == "f":
            finite = np.isfinite(arr)
            if not finite.all():
                arr = np.where(finite, arr, 0).astype(np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        window = range_window(lo, hi)
        grey = apply_window(arr, *window)
        if keep_raw:
            raw = arr.astype(np.float32)
        img = Image.fromarray(grey, "L")
        notes.append(f"{_bits(mode)}-bit image windowed over its data range {lo:g}..{hi:g}")
    elif mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        img = img.convert("RGBA").convert("RGB").convert("L") if mode.startswith("P") else img.convert("L")
        notes.append("transparency ignored")
    elif mode == "CMYK":
        img = img.convert("RGB").convert("L")
    elif mode in _COLOUR:
        img = img.convert("L")
    else:
        raise FileError(f"{fmt} pixel format {mode} is not supported", FileError.UNSUPPORTED)

    if orientation in _TRANSPOSE:
        img = img.transpose(_TRANSPOSE[orientation])
        if raw is not None:
            raw = np.ascontiguousarray(np.asarray(Image.fromarray(raw, "F").transpose(_TRANSPOSE[orientation])))
        notes.append("EXIF orientation applied")
        if orientation >= 5:
            full_w, full_h = full_h, full_w
    grey = np.asarray(img, dtype=np.uint8)
    if keep_raw and raw is None:
        raw = grey.astype(np.float32)
    return DecodedImage(
        grey=grey,
        width=full_w,
        height=full_h,
        format=fmt,
        notes=tuple(notes),
        reduced=reduced,
        meta=make_meta(full_w, full_h, fmt, tuple(notes)),
        raw=raw,
        window=window,
        colour_share=colour_share,
        missing_share=missing_share,
    )


def _colour_share(img: Image.Image) -> float:
    small = img.copy()
    small.thumbnail((256, 256))
    if small.mode != "RGB":
        small = small.convert("RGBA").convert("RGB") if small.mode in ("P", "PA") else small.convert("RGB")
    return rgb_chroma_share(np.asarray(small))


def _load_truncated_jpeg(data: bytes, mode: str, size: tuple[int, int]) -> tuple[Image.Image, str, float]:
    """Decode a JPEG whose file ends inside the scan data, by supplying the end-of-image marker."""
    img = Image.open(io.BytesIO(data + _EOI))
    if img.mode in ("RGB", "L"):
        img.draft("L", size)
    img.load()
    grey = np.asarray(img.convert("L") if img.mode != "L" else img)
    rows = grey.shape[0]
    missing = 0
    filled = (grey == 128).all(axis=1)
    while missing < rows and filled[rows - 1 - missing]:
        missing += 1
    present = 1.0 - missing / rows
    if present < MIN_PRESENT:
        raise FileError(f"truncated JPEG (only {present:.0%} of the image is in the file)", FileError.TRUNCATED)
    if missing:
        return img, f"truncated file: the bottom {missing / rows:.0%} of the image is missing (shown grey)", missing / rows
    return img, "truncated file: the end of the image data is missing; parts may be blurred or grey", 0.0


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(0x0112, 1)
        return int(value) if int(value) in _TRANSPOSE else 1
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the image
        return 1


def _bits(mode: str) -> int:
    return 16 if mode.startswith("I;16") else 32
