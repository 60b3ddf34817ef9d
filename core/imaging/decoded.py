"""The decoded-image record every reader returns (``DecodedImage``) and the size limits every reader
checks from the file's header before any pixel memory is allocated.

Limits (kept generous for radiographs, strict for attacks):
  * ``MAX_SIDE`` = 20,000 px per side. The largest clinical radiographs (full-leg/full-spine stitches,
    mammography) stay well under 10,000 px.
  * ``MAX_PIXELS`` = 150 MPixel per image (one frame). A 150 MPixel 16-bit image needs 300 MB for the
    stored values plus 600 MB as float32 for the viewer; anything bigger on a clinic PC is a
    decompression bomb or a broken header, not an X-ray.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from core.imaging.errors import FileError
from core.results import DicomMeta, ImageMeta

MAX_SIDE = 20_000
MAX_PIXELS = 150_000_000

FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "DICOM")


def check_dimensions(width: int, height: int, *, what: str = "image", frames: int = 1) -> None:
    """Refuse absurd or hostile sizes from the header alone (before any pixel buffer exists)."""
    try:
        width, height, frames = int(width), int(height), int(frames)
    except (TypeError, ValueError):
        raise FileError(f"{what} has no valid width/height in its header", FileError.CORRUPT) from None
    if width <= 0 or height <= 0:
        raise FileError(f"{what} has an empty size ({width}×{height}) in its header", FileError.CORRUPT)
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise FileError(
            f"{what} {width}×{height} exceeds the size limit ({MAX_SIDE:,} px per side, "
            f"{MAX_PIXELS // 1_000_000} MPixel)",
            FileError.TOO_LARGE,
        )


@dataclass
class DecodedImage:
    """One file decoded for display and for the model.

    ``grey`` is the uint8 display image (windowed, EXIF-oriented, bone bright); it is smaller than
    ``width``×``height`` only when ``reduced`` (reduced-scale JPEG decoding for ``reduce_to``).
    ``raw`` (only with ``keep_raw``) holds float32 values the viewer can re-window with
    ``apply_window``: modality values (after Rescale Slope/Intercept) for DICOM, stored values for
    other formats. ``window`` is the (center, width) with which ``apply_window(raw, *window,
    inverted, function=window_function, presentation=presentation_lut)`` reproduces ``grey`` — (128, 256), the identity, for 8-bit
    images — or None when ``grey`` came from a DICOM VOI LUT sequence. ``colour_share``,
    ``missing_share`` and ``scope_tags`` are what the scope gate (``core.scope``) needs beyond ``grey``
    and ``meta``; ``scope_tags`` may hold free-text DICOM descriptions: never store, log or export it. ``screen_only`` holds patient identifiers for on-screen display only: never store,
    log or export it (it is left out of repr). ``grey`` may be a read-only view of the decoder's
    buffer (no needless copy): copy it before modifying it in place.
    """

    grey: np.ndarray = field(repr=False)
    width: int
    height: int
    format: str
    notes: tuple[str, ...] = ()
    reduced: bool = False
    meta: Optional[ImageMeta] = None
    raw: Optional[np.ndarray] = field(default=None, repr=False)
    window: Optional[tuple[float, float]] = None
    inverted: bool = False
    screen_only: dict[str, str] = field(default_factory=dict, repr=False)
    window_function: str = "LINEAR"  # DICOM VOI LUT Function used with ``window``
    # every window of the DICOM file as (name, (center, width)), in file order (the viewer's presets)
    file_windows: tuple = ()
    # the file's Presentation LUT Sequence as a 256-entry uint8 curve applied after the window (DICOM)
    presentation_lut: Optional[np.ndarray] = field(default=None, repr=False)
    # evidence for the scope gate (``core.scope``), never stored or exported as such:
    colour_share: Optional[float] = None  # share of clearly coloured pixels; None for greyscale files
    missing_share: Optional[float] = None  # share of rows missing from a truncated file
    scope_tags: dict = field(default_factory=dict, repr=False)  # DICOM descriptions, SOP class, frames

    def __post_init__(self) -> None:
        if self.meta is None:
            self.meta = ImageMeta(self.width, self.height, self.format, tuple(self.notes))


COLOUR_CHROMA = 16.0  # chroma (8-bit YCbCr units) above which a pixel counts as coloured


def chroma_share(cb: np.ndarray, cr: np.ndarray) -> float:
    """Share of pixels whose chroma sqrt((Cb-128)² + (Cr-128)²) exceeds ``COLOUR_CHROMA`` (8-bit planes,
    subsampled to at most about 256×256 samples first: the share, not the detail, matters)."""
    cb = np.asarray(cb)
    cr = np.asarray(cr)
    step = max(1, int(max(cb.shape[:2]) // 256))
    b = cb[::step, ::step].astype(np.float32) - 128.0
    r = cr[::step, ::step].astype(np.float32) - 128.0
    if b.size == 0:
        return 0.0
    return float(((b * b + r * r) > COLOUR_CHROMA * COLOUR_CHROMA).mean())


def rgb_chroma_share(rgb: np.ndarray) -> float:
    """``chroma_share`` of an (H, W, ≥3) RGB array of any numeric range (scaled to 8 bits by its maximum)."""
    a = np.asarray(rgb)
    step = max(1, int(max(a.shape[:2]) // 256))
    a = a[::step, ::step, :3].astype(np.float32)
    top = float(a.max()) if a.size else 0.0
    if top > 255.0:
        a *= 255.0 / top
    cb = -0.168736 * a[..., 0] - 0.331264 * a[..., 1] + 0.5 * a[..., 2] + 128.0
    cr = 0.5 * a[..., 0] - 0.418688 * a[..., 1] - 0.081312 * a[..., 2] + 128.0
    return chroma_share(cb, cr)


def make_meta(width: int, height: int, fmt: str, notes: tuple[str, ...], dicom: DicomMeta | None = None) -> ImageMeta:
    return ImageMeta(width=width, height=height, format=fmt, notes=tuple(notes), dicom=dicom)
