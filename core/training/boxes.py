"""Fracture boxes for box-supervised training (numpy only).

FracAtlas ships COCO boxes of every fracture (``fracture_boxes_coco.json`` beside ``dataset.csv``) in
the coordinates of the published images. They are kept per image as fractions of the image's width and
height (so a copy shrunk for distribution still matches) and drawn into a low-resolution mask of the
letterboxed model input (``MASK_DIV`` input pixels per mask pixel), which the training loop warps with
the same augmentation as the image and reduces to the model's cells. Also the out-of-fold localisation
measures: does the heatmap's peak fall in a box, and how many boxes do the top cells hit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.imaging.preprocess import letterbox_geometry

BOXES_FILE = "fracture_boxes_coco.json"
MASK_DIV = 4  # mask pixels are 4×4 input pixels (64×64 for a 256-px input)


def load_coco_boxes(path: Path) -> dict[str, dict]:
    """file name → {"size": (w, h), "boxes": [(x0, y0, x1, y1) as fractions of w, h], ...}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    images = {im["id"]: im for im in data.get("images", [])}
    out: dict[str, dict] = {}
    for im in images.values():
        out[im["file_name"]] = {"size": (float(im["width"]), float(im["height"])), "boxes": []}
    for a in data.get("annotations", []):
        im = images.get(a.get("image_id"))
        if im is None or not a.get("bbox"):
            continue
        x, y, w, h = (float(v) for v in a["bbox"])
        W, H = float(im["width"]), float(im["height"])
        if W <= 0 or H <= 0 or w <= 0 or h <= 0:
            continue
        out[im["file_name"]]["boxes"].append((max(0.0, x / W), max(0.0, y / H), min(1.0, (x + w) / W),
                                              min(1.0, (y + h) / H)))
    return out


def canvas_boxes(boxes, src_w: float, src_h: float, size: int) -> list[tuple[float, float, float, float]]:
    """Fractional boxes → boxes in letterboxed canvas pixels (x0, y0, x1, y1)."""
    geo = letterbox_geometry(max(1, round(src_w)), max(1, round(src_h)), size)
    return [(geo.left + x0 * geo.width, geo.top + y0 * geo.height, geo.left + x1 * geo.width,
             geo.top + y1 * geo.height) for x0, y0, x1, y1 in boxes]


def box_mask(boxes, src_w: float, src_h: float, size: int, div: int = MASK_DIV) -> np.ndarray:
    """uint8 (size/div, size/div) mask, 1 where a mask pixel overlaps a box (at least one pixel wide)."""
    m = size // div
    out = np.zeros((m, m), np.uint8)
    for x0, y0, x1, y1 in canvas_boxes(boxes, src_w, src_h, size):
        c0, r0 = int(np.floor(x0 / div)), int(np.floor(y0 / div))
        c1, r1 = int(np.ceil(x1 / div)), int(np.ceil(y1 / div))
        out[max(0, r0):max(r0 + 1, min(m, r1)), max(0, c0):max(c0 + 1, min(m, c1))] = 1
    return out


def masks_for(listing, size: int, div: int = MASK_DIV) -> tuple[np.ndarray, np.ndarray]:
    """(masks uint8 (N, size/div, size/div), supervised bool (N,)) for a listing.

    An image is supervised per cell when its label is 0 (no fracture anywhere: an all-zero mask) or
    when it is fractured and its boxes are known; fractured images without boxes get no cell loss."""
    n, m = len(listing), size // div
    masks = np.zeros((n, m, m), np.uint8)
    supervised = np.asarray(listing.labels) == 0
    for i, info in enumerate(getattr(listing, "boxes", None) or [None] * n):
        if info and info.get("boxes") and int(listing.labels[i]) == 1:
            w, h = info["size"]
            masks[i] = box_mask(info["boxes"], w, h, size, div)
            supervised[i] = True
    return masks, supervised


def cell_targets(masks: np.ndarray, cells: int) -> np.ndarray:
    """(N, m, m) masks → (N, cells, cells) bool: a cell is positive when any of its mask pixels is."""
    n, m, _ = masks.shape
    k = m // cells
    return masks[:, : cells * k, : cells * k].reshape(n, cells, k, cells, k).max((2, 4)) > 0


def localisation(cams: np.ndarray, masks: np.ndarray, labels, supervised, top_k: int = 3) -> dict:
    """Out-of-fold localisation on fractured images with boxes.

    ``peak_in_box``: share whose single highest cell overlaps a box; ``boxes_hit_top{k}``: share of those
    images where one of the ``top_k`` highest cells overlaps a box (a proxy for boxes hit, per image)."""
    labels, supervised = np.asarray(labels), np.asarray(supervised)
    sel = np.flatnonzero((labels == 1) & supervised)
    if len(sel) == 0 or cams is None:
        return {"images": 0}
    cells = cams.shape[-1]
    tgt = cell_targets(masks[sel], cells).reshape(len(sel), -1)
    flat = cams[sel].reshape(len(sel), -1)
    peak = flat.argmax(1)
    top = np.argsort(-flat, axis=1)[:, :top_k]
    in_peak = tgt[np.arange(len(sel)), peak]
    in_top = np.take_along_axis(tgt, top, 1).any(1)
    return {"images": int(len(sel)), "cells": f"{cells}x{cells}", "peak_in_box": round(float(in_peak.mean()), 4),
            f"any_of_top{top_k}_in_box": round(float(in_top.mean()), 4),
            "box_cell_share": round(float(tgt.mean()), 4)}
