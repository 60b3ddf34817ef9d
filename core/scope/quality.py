"""Image checks of the scope gate that need no model and no tags: colour, size, blank, incomplete,
and pages that are mostly white (documents, drawings, screenshots).

Every threshold here was checked on the 3,161 FracAtlas developer radiographs (none of them is
gated by these checks; ``tests/benchmarks/bench_scope.py`` prints the figures) and on generated
photographs, documents and test patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.scope.verdict import KIND_COLOUR, KIND_QUALITY, Verdict, out

MIN_SIDE = 64  # px: smaller than this is an icon or a thumbnail, not a radiograph to triage (FracAtlas: 181 px and up)
MAX_COLOUR_SHARE = 0.05  # above this share of clearly coloured pixels the picture is a colour image
MIN_SPREAD = 8  # grey levels between the 1st and 99th percentile: below this the image is blank
MAX_MISSING = 0.20  # a truncated file missing more than this share of its rows is incomplete
MAX_WHITE_SHARE = 0.60  # above this share of near-white pixels it is a page, not a radiograph
WHITE_LEVEL = 235


@dataclass(frozen=True)
class GreyStats:
    spread: float  # 99th minus 1st percentile, grey levels
    white_share: float  # share of pixels >= WHITE_LEVEL


def grey_stats(grey: np.ndarray) -> GreyStats:
    """Statistics of a uint8 display image, on a subsample of about 256×256 pixels."""
    a = np.asarray(grey)
    if a.ndim != 2 or a.size == 0:
        return GreyStats(0.0, 0.0)
    step = max(1, int(max(a.shape) // 256))
    s = a[::step, ::step]
    hist = np.bincount(s.ravel().astype(np.intp), minlength=256)[:256]
    cdf = np.cumsum(hist) / max(1, s.size)
    p1 = int(np.searchsorted(cdf, 0.01))
    p99 = int(np.searchsorted(cdf, 0.99))
    return GreyStats(float(p99 - p1), float(hist[WHITE_LEVEL:].sum() / max(1, s.size)))


def quality_verdict(*, width: int, height: int, colour_share: Optional[float], missing_share: Optional[float],
                    stats: Optional[GreyStats]) -> Optional[Verdict]:
    """Out of scope for colour or quality, or None (nothing against the image)."""
    if colour_share is not None and colour_share > MAX_COLOUR_SHARE:
        return out(f"colour photograph or colour image ({colour_share:.0%} of pixels coloured)", KIND_COLOUR)
    if min(width, height) < MIN_SIDE:
        return out(f"image too small ({width}×{height} px; at least {MIN_SIDE} px a side needed)", KIND_QUALITY)
    if missing_share is not None and missing_share > MAX_MISSING:
        return out(f"image incomplete: {missing_share:.0%} of rows missing", KIND_QUALITY)
    if stats is not None:
        if stats.spread < MIN_SPREAD:
            return out("image nearly blank (almost a single grey level)", KIND_QUALITY)
        if stats.white_share > MAX_WHITE_SHARE:
            return out(f"mostly white ({stats.white_share:.0%} of pixels): a document or drawing, "
                       "not a radiograph", KIND_QUALITY)
    return None
