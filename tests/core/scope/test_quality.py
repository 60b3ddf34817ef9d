"""Colour, size, blank, incomplete and page checks."""

import numpy as np

from core.scope.quality import MAX_MISSING, MIN_SIDE, grey_stats, quality_verdict
from core.scope.verdict import KIND_COLOUR, KIND_QUALITY

RADIOGRAPH = grey_stats(np.tile(np.linspace(0, 200, 300).astype(np.uint8), (300, 1)))


def q(**kw):
    args = dict(width=400, height=500, colour_share=0.0, missing_share=None, stats=RADIOGRAPH)
    args.update(kw)
    return quality_verdict(**args)


def test_a_plain_radiograph_passes():
    assert q() is None


def test_colour():
    v = q(colour_share=0.4)
    assert v.kind == KIND_COLOUR and "40%" in v.reason
    assert q(colour_share=0.01) is None  # a small coloured marker is fine


def test_too_small():
    v = q(width=MIN_SIDE - 1)
    assert v.kind == KIND_QUALITY and "too small" in v.reason


def test_incomplete_only_when_a_large_part_is_missing():
    assert q(missing_share=0.05) is None
    v = q(missing_share=0.48)
    assert v.reason == "image incomplete: 48% of rows missing"
    assert q(missing_share=MAX_MISSING) is None


def test_blank_and_pages():
    assert "blank" in q(stats=grey_stats(np.full((300, 300), 117, np.uint8))).reason
    page = np.full((300, 300), 250, np.uint8)
    page[::10] = 0  # lines of text
    assert "document" in q(stats=grey_stats(page)).reason


def test_grey_stats_of_empty_input():
    assert grey_stats(np.zeros((0, 0), np.uint8)).spread == 0.0
