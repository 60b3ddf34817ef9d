"""desktop.review_pane: the image the reader came to is decoded once "Loading…" is painted, its
neighbours once it is on screen (decoded beside it, each with its heatmap inference, they slowed it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from core.work_items import WorkItem
from desktop.review_pane import ReviewPane
from desktop.tasks import TaskRunner


def _item(path: Path) -> WorkItem:
    image_id = hashlib.sha256(path.read_bytes()).hexdigest()
    return WorkItem(image_id, str(path), path.name, 0.5, "test-1", "suspicious", None, None, None, None, None, None)


def _png(path: Path, level: int) -> Path:
    Image.fromarray(np.full((30, 40), level, np.uint8)).save(path)
    return path


def _shown_pane(qtbot, tasks) -> tuple[ReviewPane, list]:
    """A review pane on screen, and the list its image requests go to: (file name, urgent)."""
    pane = ReviewPane(tasks, lambda: None)
    qtbot.addWidget(pane)
    pane.resize(800, 600)
    asked = []
    request = pane.cache.request
    pane.cache.request = lambda image_id, path, urgent=False: asked.append((path.name, urgent)) or request(
        image_id, path, urgent)
    with qtbot.waitExposed(pane):
        pane.show()
    return pane, asked


def test_neighbours_are_prefetched_after_the_current_image_is_on_screen(qtbot, tmp_path):
    tasks = TaskRunner()
    try:
        pane, asked = _shown_pane(qtbot, tasks)
        current, before, after = (_item(_png(tmp_path / f"{n}.png", 40 + 30 * i))
                                  for i, n in enumerate(("current", "before", "after")))
        pane.cache.loaded.connect(lambda image_id: image_id == current.image_id and asked.append("current loaded"))
        with qtbot.waitSignal(pane.displayed, timeout=30000) as shown:
            pane.show_item(current, [before, after])
            assert asked == []  # "Loading…" is painted first
        assert shown.args == [current.image_id]
        # alone (and started even while the pool is held), the neighbours once it was decoded and painted
        assert asked == [("current.png", True), "current loaded", ("before.png", False), ("after.png", False)]
        qtbot.waitUntil(lambda: pane.cache.get(after.image_id) is not None, timeout=30000)
        asked.clear()
        pane.show_item(after, [current])  # cached: shown at once, the neighbour asked for at once
        assert asked == [("current.png", False)]
    finally:
        tasks.shutdown()


def test_a_hidden_viewer_prefetches_the_neighbours_once_the_image_is_decoded(qtbot, tmp_path):
    tasks = TaskRunner()
    pane = ReviewPane(tasks, lambda: None)  # never shown: no paint will say the image is on screen
    qtbot.addWidget(pane)
    try:
        current, nxt = (_item(_png(tmp_path / f"{n}.png", 60 + 50 * i)) for i, n in enumerate(("current", "next")))
        pane.show_item(current, [nxt])
        qtbot.waitUntil(lambda: pane.cache.get(nxt.image_id) is not None, timeout=30000)
        assert pane.cache.get(current.image_id) is not None
    finally:
        tasks.shutdown()


def test_an_image_left_before_its_paint_is_not_decoded(qtbot, tmp_path):
    tasks = TaskRunner()
    try:
        pane, asked = _shown_pane(qtbot, tasks)
        first, second = (_item(_png(tmp_path / f"{n}.png", 70 + 40 * i)) for i, n in enumerate(("first", "second")))
        with qtbot.waitSignal(pane.displayed, timeout=30000) as shown:
            pane.show_item(first, [])
            pane.show_item(second, [])  # a key held down: the reader is past "first" before it painted
        assert shown.args == [second.image_id] and asked == [("second.png", True)]
    finally:
        tasks.shutdown()
