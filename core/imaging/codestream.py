"""Reading compressed DICOM frames' own headers before any decoder runs: the JPEG 2000 main header
(``j2k_header``: size, precision, wavelet levels) and a JPEG / JPEG-LS start-of-frame
(``jpeg_frame_size``), with our own small parsers (pydicom's are private). Used for two things:
``check_codestream_size`` refuses a frame that claims a far bigger size than Rows/Columns (a
decompression bomb for decoders that allocate what the codestream says), and ``j2k_reduced`` decodes a
large JPEG 2000 frame for the model input only at a reduced wavelet level (openjpeg through Pillow,
about 10x faster on a 2000² radiograph; within ``J2K_TOLERANCE`` of a full decode + letterbox).
"""

from __future__ import annotations

import io
import math
import struct

import numpy as np

from core.imaging.decoded import check_dimensions
from core.imaging.errors import FileError


# A reduced JPEG 2000 decode gives the model input within this of a full decode + letterbox, in grey
# levels of the uint8 canvas (tests/core/imaging/test_j2k_reduce.py: mean abs ≤ 1.5, 99th pct ≤ 8)
J2K_TOLERANCE = {"mean_abs": 1.5, "p99_abs": 8}


def j2k_header(frame: bytes) -> tuple[int, int, int, bool, int] | None:
    """(width, height, precision in bits, signed, wavelet decomposition levels) of a raw JPEG 2000
    codestream's main header (SIZ and COD markers), or None when it is not one."""
    if len(frame) < 64 or frame[:4] != b"\xff\x4f\xff\x51":
        return None
    xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", frame, 8)
    csiz = struct.unpack_from(">H", frame, 40)[0]
    if csiz < 1:
        return None
    ssiz = frame[42]
    lsiz = struct.unpack_from(">H", frame, 4)[0]
    pos = 4 + lsiz
    end = min(len(frame), 1 << 16)
    while pos + 4 <= end:  # main header markers until COD
        marker, length = struct.unpack_from(">HH", frame, pos)
        if marker == 0xFF52:  # COD: Lcod, Scod, SGcod (4 bytes), then SPcod's decomposition levels
            if pos + 10 > len(frame):
                return None
            return xsiz - xo, ysiz - yo, (ssiz & 0x7F) + 1, bool(ssiz & 0x80), frame[pos + 9]
        if marker in (0xFF90, 0xFF93) or marker >> 8 != 0xFF:  # a tile already: no COD in the main header
            return None
        pos += 2 + length
    return None


def j2k_reduce_level(width: int, height: int, levels: int, reduce_to: int) -> int:
    """The most resolution levels that can be discarded keeping the long side ≥ ``reduce_to``."""
    r, side = 0, max(width, height)
    while r < levels and math.ceil(side / 2 ** (r + 1)) >= reduce_to:
        r += 1
    return r


def j2k_reduced(ds, frames: int, reduce_to: int, bits_allocated: int) -> np.ndarray | None:
    """The first JPEG 2000 frame decoded by openjpeg (through Pillow) at a reduced resolution, its
    values shifted back to the codestream's precision (Pillow scales them up to 16 bits), as the
    dtype pydicom would give; None when not worth it or not possible (then the full decode runs)."""
    try:
        from PIL import Image
        from pydicom.encaps import get_frame

        frame = get_frame(ds.PixelData, 0, number_of_frames=frames)
        head = j2k_header(frame)
        if head is None:
            return None
        width, height, precision, signed, levels = head
        if signed or precision > 16 or bits_allocated not in (8, 16):
            return None
        # keep the long side ≥ 2 × reduce_to: the letterbox's own (bilinear) downscale then does the
        # last halving, which keeps the model input within J2K_TOLERANCE of a full decode + resize
        r = j2k_reduce_level(width, height, levels, 2 * reduce_to)
        if r == 0:
            return None
        im = Image.open(io.BytesIO(frame))
        im.reduce = r  # openjpeg's reduce: decode only the lower resolution levels
        im.load()
        if im.mode not in ("L", "I;16", "I;16L", "I;16B"):
            return None
        a = np.asarray(im)
        if a.dtype.itemsize == 2 and precision < 16:
            a = a >> (16 - precision)
        return np.ascontiguousarray(a, dtype=np.uint8 if bits_allocated == 8 else np.uint16)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception:  # noqa: BLE001 - the full decode (and its error reporting) takes over
        return None


def check_codestream_size(ds, ts, frames: int, cols: int, rows: int) -> None:
    """A compressed frame may claim a far bigger size than Rows/Columns (a decompression bomb for the
    JPEG/JPEG 2000 decoders, which allocate what the codestream says): read its header first."""
    size = None
    try:
        from pydicom.encaps import get_frame

        frame = get_frame(ds.PixelData, 0, number_of_frames=frames)
        if "2000" in ts.name:
            at = frame.find(b"\xff\x4f\xff\x51", 0, 4096)  # SOC + SIZ marker
            if at >= 0:
                xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", frame, at + 8)
                size = (xsiz - xo, ysiz - yo)
        elif "JPEG" in ts.name:
            size = jpeg_frame_size(frame)
    except Exception:  # noqa: BLE001 - an unreadable codestream header is the decoder's to report
        return
    if size is None:
        return
    check_dimensions(*size, what="compressed DICOM frame")
    if size[0] > cols or size[1] > rows:
        raise FileError(
            f"damaged DICOM: its compressed frame is {size[0]}×{size[1]} but the header says {cols}×{rows}",
            FileError.CORRUPT,
        )


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}  # SOF0..15 and JPEG-LS SOF55


def jpeg_frame_size(frame: bytes) -> tuple[int, int] | None:
    """(width, height) from the start-of-frame marker of a JPEG / JPEG-LS codestream, read by walking
    its marker segments (our own parser: pydicom's is private and may change), or None."""
    if len(frame) < 4 or frame[0:2] != b"\xff\xd8":
        return None
    pos, end = 2, min(len(frame), 1 << 20)
    while pos + 4 <= end:
        if frame[pos] != 0xFF:
            return None
        marker = frame[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length
            pos += 2
            continue
        length = struct.unpack_from(">H", frame, pos + 2)[0]
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if pos + 9 > len(frame):
                return None
            height, width = struct.unpack_from(">HH", frame, pos + 5)
            return int(width), int(height)
        if marker in (0xDA, 0xD9):  # start of scan / end of image before any frame header
            return None
        pos += 2 + length
    return None
