"""The heatmap overlay's pixels: a model's class-activation map (model-input space, covering the
letterboxed square canvas) cut back to the image's own area and coloured with one ramp
(blue → cyan → yellow → red; low values transparent) as RGBA. The desktop only wraps it in a QImage."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image

from core.imaging.preprocess import letterbox_geometry

HEATMAP_LONG_SIDE = 512

RAMP = np.array([  # value, r, g, b, alpha
    [0.00, 0, 0, 255, 0],
    [0.30, 0, 160, 255, 0],
    [0.50, 40, 230, 120, 80],
    [0.75, 255, 220, 0, 160],
    [1.00, 255, 40, 0, 210],
], dtype=np.float32)


def colour_ramp(v: np.ndarray) -> np.ndarray:
    """Values in 0..1 (any shape) → uint8 RGBA (shape + (4,)) on ``RAMP``."""
    v = np.clip(np.asarray(v, dtype=np.float32), 0.0, 1.0)
    out = np.empty(v.shape + (4,), np.uint8)
    for ch in range(4):
        out[..., ch] = np.interp(v, RAMP[:, 0], RAMP[:, ch + 1]).astype(np.uint8)
    return out


def heatmap_rgba(cam: np.ndarray, src_w: int, src_h: int, size: int,
                 long_side: int = HEATMAP_LONG_SIDE) -> Optional[np.ndarray]:
    """(H, W, 4) uint8 overlay with the image's aspect ratio (long side ``long_side``), or None when
    the map is not 2-D, not finite, or flat (nothing to show)."""
    c = np.asarray(cam, dtype=np.float32)
    if c.ndim != 2 or c.size == 0 or not np.isfinite(c).all():
        return None
    c = c - c.min()
    top = float(c.max())
    if top <= 1e-9:
        return None
    c /= top
    canvas = np.asarray(Image.fromarray(c, "F").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    geo = letterbox_geometry(src_w, src_h, size)
    region = canvas[geo.top: geo.top + geo.height, geo.left: geo.left + geo.width]
    scale = long_side / max(src_w, src_h)
    out_w, out_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    v = np.asarray(Image.fromarray(np.ascontiguousarray(region), "F").resize((out_w, out_h), Image.Resampling.BILINEAR),
                   dtype=np.float32)
    return np.ascontiguousarray(colour_ramp(v))
