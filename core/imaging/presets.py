"""The viewer's window presets for one image: as acquired, full range, high contrast, bone detail —
computed from the values window/level works on (DICOM modality values, else the 8-bit image)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from core.imaging.window import range_window

Window = tuple[float, float]  # (center, width)
PRESET_NAMES = ("As acquired", "Full range", "High contrast", "Bone detail")


def compute_presets(src: np.ndarray, as_read: Optional[Window],
                    inverted: bool = False) -> list[tuple[str, Optional[Window]]]:
    """The four presets as (name, window); the first is ``as_read`` (None: the image as read).
    ``inverted``: the values are shown inverted (MONOCHROME1), so bone is at the LOW end of ``src``.
    Percentiles come from a grid sample of at most ~256×256 values (fast on 4000² images)."""
    src = np.asarray(src)
    if src.ndim != 2 or src.size == 0:
        raise ValueError(f"window presets need a 2-D image, got shape {src.shape}")
    sample = src[:: max(1, src.shape[0] // 256), :: max(1, src.shape[1] // 256)].astype(np.float32, copy=False)
    lo, p03, p2, p45, p55, p98, p997, hi = np.percentile(sample, [0, 0.3, 2, 45, 55, 98, 99.7, 100])
    bone = range_window(p03, max(p55, p03 + 1)) if inverted else range_window(p45, max(p997, p45 + 1))
    return list(zip(PRESET_NAMES, (
        as_read,
        range_window(lo, max(hi, lo + 1)),
        range_window(p2, max(p98, p2 + 1)),
        bone,
    )))
