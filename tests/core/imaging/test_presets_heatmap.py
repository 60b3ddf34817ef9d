"""Window presets and the heatmap overlay, without Qt: presets bracket the values they came from
(bone at the bright end, or the dark end for MONOCHROME1), and the heatmap covers the image's own
area of the letterboxed canvas with the colour ramp."""

from __future__ import annotations

import numpy as np
import pytest

from core.imaging.heatmap import HEATMAP_LONG_SIDE, RAMP, colour_ramp, heatmap_rgba
from core.imaging.presets import PRESET_NAMES, compute_presets
from core.imaging.window import apply_window


def _ramp_image(h=300, w=200, lo=100.0, hi=3000.0):
    return np.linspace(lo, hi, h * w, dtype=np.float32).reshape(h, w)


def _windows(presets):
    return {p.name: p.window for p in presets}


def test_presets_names_and_as_read():
    src = _ramp_image()
    presets = compute_presets(src, (1500.0, 2000.0))
    assert [p.name for p in presets] == list(PRESET_NAMES)
    assert presets[0].window is None and presets[0].source == "as_read"  # the image exactly as read
    assert compute_presets(src, None)[0].window is None


def test_full_range_maps_min_to_black_and_max_to_white():
    src = _ramp_image()
    c, w = _windows(compute_presets(src, None))["Full range"]
    out = apply_window(np.array([src.min(), src.max()]), c, w)
    assert out.tolist() == [0, 255]


def test_bone_detail_is_at_the_bright_end_or_the_dark_end_when_inverted():
    src = _ramp_image()
    bone = _windows(compute_presets(src, None))["Bone detail"]
    bone_inv = _windows(compute_presets(src, None, inverted=True))["Bone detail"]
    assert bone[0] > np.median(src) > bone_inv[0]


def test_high_contrast_is_narrower_than_full_range():
    src = _ramp_image()
    p = _windows(compute_presets(src, None))
    assert p["High contrast"][1] < p["Full range"][1]


def test_flat_image_gives_usable_windows():
    p = compute_presets(np.full((10, 10), 7, np.uint8), None)
    assert all(q.window[1] >= 1 for q in p[1:])


def test_presets_refuse_a_non_image():
    with pytest.raises(ValueError, match="2-D"):
        compute_presets(np.zeros((0, 4)), None)


def test_colour_ramp_ends_and_transparency():
    rgba = colour_ramp(np.array([0.0, 0.3, 1.0, 5.0]))
    assert rgba.shape == (4, 4)
    assert rgba[0].tolist() == RAMP[0, 1:].astype(int).tolist() and rgba[1, 3] == 0  # low values transparent
    assert rgba[2].tolist() == rgba[3].tolist() == RAMP[-1, 1:].astype(int).tolist()  # clipped at 1


def test_heatmap_covers_only_the_image_area_of_the_letterbox():
    size = 64
    cam = np.zeros((8, 8), np.float32)
    cam[:, :4] = 1.0  # hot on the left half of the square canvas
    rgba = heatmap_rgba(cam, src_w=400, src_h=200, size=size)  # a wide image: padding above and below
    assert rgba.shape == (HEATMAP_LONG_SIDE // 2, HEATMAP_LONG_SIDE, 4)
    left, right = rgba[:, : HEATMAP_LONG_SIDE // 4, 3], rgba[:, -HEATMAP_LONG_SIDE // 4:, 3]
    assert left.mean() > 150 and right.mean() < 10


@pytest.mark.parametrize("cam", [np.zeros((8, 8)), np.ones((8, 8)), np.full((8, 8), np.nan), np.zeros(8), np.zeros((0, 0))])
def test_flat_or_broken_maps_give_no_heatmap(cam):
    assert heatmap_rgba(cam, 100, 100, 64) is None
