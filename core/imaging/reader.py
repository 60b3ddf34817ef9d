"""THE boundary between untrusted file bytes and the rest of the app: ``read_image`` turns any file
into a ``DecodedImage`` or raises ``FileError`` with a specific, human-readable reason — never any
other exception. Format dispatch: DICOM by content (``is_dicom``: 'DICM' at offset 128 or a
plausible headerless dataset) or by a .dcm/.dicom name; everything else through Pillow.

Size limits (checked from headers before pixel memory is allocated; see ``core.imaging.decoded``):
at most 20,000 px per side and 150 MPixel per image or DICOM frame. DICOM native pixel data must be
at least Rows×Columns×Samples×BitsAllocated/8 bytes for the first frame.

Public API: ``read_image``, ``DecodedImage``, ``apply_window``, ``is_dicom``, ``MAX_SIDE``,
``MAX_PIXELS``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace

from PIL import Image, UnidentifiedImageError

from core.imaging.decoded import MAX_PIXELS, MAX_SIDE, DecodedImage
from core.imaging.dicom import decode_dicom, is_dicom
from core.imaging.errors import FileError
from core.imaging.warn import collect
from core.imaging.raster import decode_raster
from core.imaging.window import apply_window

__all__ = ["read_image", "DecodedImage", "apply_window", "is_dicom", "FileError", "MAX_SIDE", "MAX_PIXELS"]

_DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")
_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"BM": "BMP",
}


def read_image(data: bytes, *, name: str = "", reduce_to: int | None = None, keep_raw: bool = False) -> DecodedImage:
    """Decode one file's bytes. ``name`` (file name or path) only words errors and lets a .dcm name
    try DICOM parsing; ``reduce_to`` lets JPEGs decode at a reduced DCT scale, and JPEG 2000 DICOM at
    a reduced wavelet level, keeping the long side ≥ ``reduce_to`` (then ``reduced`` is True); ``keep_raw`` keeps float32 values for re-windowing.

    Library warnings raised while decoding (pydicom, Pillow) are caught for this file only and added
    to its notes, sanitised ("decoder warning: ..."); they never reach the console."""
    with collect() as caught:
        img = _read_image(data, name=name, reduce_to=reduce_to, keep_raw=keep_raw)
    if caught:
        notes = tuple(img.notes) + tuple(n for n in caught if n not in img.notes)
        img.notes = notes
        if img.meta is not None:
            img.meta = replace(img.meta, notes=notes)
    return img


def _read_image(data: bytes, *, name: str, reduce_to: int | None, keep_raw: bool) -> DecodedImage:
    kind = "file"
    try:
        if data is None or len(data) == 0:
            raise FileError("empty file (0 bytes)", FileError.NOT_AN_IMAGE)
        data = bytes(data) if not isinstance(data, bytes) else data
        kind = _guess_kind(data, name)
        if kind == "DICOM":
            return decode_dicom(data, keep_raw=keep_raw, sniffed=is_dicom(data[:1024]), reduce_to=reduce_to)
        return decode_raster(data, reduce_to=reduce_to, keep_raw=keep_raw)
    except FileError:
        raise
    except Image.DecompressionBombError as exc:
        raise FileError(f"image exceeds the size limit ({exc})", FileError.TOO_LARGE) from None
    except MemoryError:
        raise FileError("not enough memory to decode this image", FileError.TOO_LARGE) from None
    except UnidentifiedImageError:
        if kind in ("JPEG", "PNG", "TIFF", "BMP"):
            if len(data) < 1024:
                raise FileError(f"truncated {kind} (the file ends inside its header)", FileError.TRUNCATED) from None
            raise FileError(f"damaged {kind}: its header cannot be read", FileError.CORRUPT) from None
        raise _not_an_image(data, name) from None
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - THE boundary: every library error becomes a FileError
        # (BaseException: Rust decoders raise pyo3 PanicException, which is not an Exception)
        raise _classify(exc, kind) from None


def _guess_kind(data: bytes, name: str) -> str:
    if data[128:132] == b"DICM":  # before magic numbers: a DICOM preamble may hold a TIFF header
        return "DICOM"
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic):
            return fmt
    if is_dicom(data[:1024]) or name.lower().endswith(_DICOM_SUFFIXES):
        return "DICOM"
    return "image"


def _not_an_image(data: bytes, name: str) -> FileError:
    head = data[:512]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    what = "a text file" if head and printable / len(head) > 0.95 else "unrecognised content"
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name.replace("\\", "/").rsplit("/", 1)[-1] else ""
    if suffix and len(suffix) <= 5:
        what += f" named .{suffix}"
    return FileError(f"not an image file ({what})", FileError.NOT_AN_IMAGE)


def _classify(exc: BaseException, kind: str) -> FileError:
    msg = " ".join(str(exc).split())[:200] or type(exc).__name__
    low = msg.lower()
    label = "image" if kind == "image" else kind
    if isinstance(exc, (EOFError, struct.error)) or "truncated" in low or "premature end" in low or (
        "buffer" in low and ("too small" in low or "not enough" in low)
    ) or "end of file" in low or "unexpected end" in low:
        return FileError(f"truncated {label} ({msg})", FileError.TRUNCATED)
    if isinstance(exc, zlib.error) or "decompress" in low or "broken data stream" in low:
        return FileError(f"damaged {label}: compressed data is corrupt ({msg})", FileError.CORRUPT)
    if isinstance(exc, NotImplementedError):
        return FileError(f"{label} uses a feature that is not supported ({msg})", FileError.UNSUPPORTED)
    if isinstance(exc, (PermissionError, IsADirectoryError)):
        return FileError(f"cannot read the file ({msg})", FileError.UNREADABLE)
    return FileError(f"damaged {label}: {type(exc).__name__}: {msg}", FileError.CORRUPT)
