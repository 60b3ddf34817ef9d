"""Window/level maths from stored or modality values to the 8-bit display image, shared by the
readers and the viewer (``apply_window``), so a re-windowed image matches what ``read_image`` made.

The linear window follows DICOM PS3.3 C.11.2.1.2.1 (the same function as pydicom's
``apply_windowing`` for ``LINEAR``), with the output range fixed to 0..255; ``LINEAR_EXACT`` and
``SIGMOID`` are supported for DICOM files that ask for them.
"""

from __future__ import annotations

import numpy as np


IDENTITY_WINDOW = (128.0, 256.0)  # LINEAR window that maps 0..255 onto itself exactly


def range_window(lo: float, hi: float) -> tuple[float, float]:
    """(center, width) of the LINEAR window that maps ``lo`` → 0 and ``hi`` → 255 exactly."""
    lo, hi = float(lo), float(hi)
    return (lo + hi) / 2.0 + 0.5, max(hi - lo + 1.0, 1.0)


def apply_window(
    raw: np.ndarray, center: float, width: float, inverted: bool = False, *, function: str = "LINEAR",
    presentation: np.ndarray | None = None,
) -> np.ndarray:
    """Values (any numeric dtype, any shape) → uint8 display values; ``inverted`` flips black/white
    (MONOCHROME1 / Presentation LUT Shape INVERSE) so bone stays bright. ``presentation``: a
    256-entry uint8 curve (a DICOM Presentation LUT Sequence, ``core.imaging.dicom.presentation_curve``)
    applied to the window's output before ``inverted``."""
    x = np.asarray(raw)
    if x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float32)
    c = float(center)
    w = float(width)
    fn = (function or "LINEAR").upper()
    if fn == "SIGMOID":
        w = max(w, 1e-6)
        y = 255.0 / (1.0 + np.exp(np.clip(-4.0 * (x - c) / w, -80, 80)))
    elif fn == "LINEAR_EXACT":
        w = max(w, 1e-6)
        y = (x - c) * (255.0 / w) + 127.5
    elif w <= 1.0:  # LINEAR with width 1: a threshold at center - 0.5
        y = np.where(x > c - 0.5, np.float32(255.0), np.float32(0.0))
    else:
        y = (x - (c - 0.5)) * np.float32(255.0 / (w - 1.0)) + np.float32(127.5)
    y = np.asarray(y)
    np.clip(y, 0.0, 255.0, out=y)
    out = np.rint(y, out=y).astype(np.uint8)
    if presentation is not None:
        out = np.asarray(presentation, dtype=np.uint8)[out]
    if inverted:
        np.subtract(np.uint8(255), out, out=out)
    return out
