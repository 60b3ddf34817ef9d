"""``desktop.prefetch``: decoding for the viewer off the GUI thread (image, presets, heatmap; a bad
file becomes a reason, never an exception) and the LRU cache that prefetches."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.model import load_model
from desktop.prefetch import ImageCache, heatmap_image, load_for_viewer
from desktop.tasks import TaskRunner


def png(path: Path, level: int = 120, size=(40, 30)) -> Path:
    Image.fromarray(np.full(size[::-1], level, np.uint8)).save(path)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_a_png_with_presets(tmp_path):
    path = png(tmp_path / "a.png")
    img = load_for_viewer(sha(path), path)
    assert img.error == "" and (img.width, img.height) == (40, 30) and img.qimage.width() == 40
    assert img.raw is None and img.source is img.grey
    assert img.presets[0].name == "As acquired" and img.presets[0].window is None
    assert len(img.presets) == 4 and img.presentation_lut is None


def test_a_dicom_brings_its_windows_and_function(tmp_path):
    from tests.core.imaging import factory

    ph = factory.phantom(dtype=np.uint16, hi=4000)
    path = tmp_path / "a.dcm"
    path.write_bytes(factory.dicom(ph, bits_stored=12, WindowCenter=[2000, 3500], WindowWidth=[1000, 600],
                                   WindowCenterWidthExplanation=["STANDARD", "BONE"], VOILUTFunction="SIGMOID"))
    img = load_for_viewer(sha(path), path)
    assert img.error == "" and img.raw is not None and img.window_function == "SIGMOID"
    assert [(p.label, p.function) for p in img.presets] == [
        ("STANDARD (file)", "SIGMOID"), ("BONE (file)", "SIGMOID"), ("Full range", "LINEAR"),
        ("High contrast", "LINEAR"), ("Bone detail", "LINEAR")]


def test_heatmap_with_a_model_that_has_one(tmp_path, test_model):
    path = png(tmp_path / "a.png")
    img = load_for_viewer(sha(path), path, model=load_model(test_model))
    assert img.heatmap is None or img.heatmap.width() == 512  # the test model's CAM may be flat
    cam = np.zeros((8, 8), np.float32)
    cam[2, 2] = 1.0
    q = heatmap_image(cam, 40, 30, 64)
    assert (q.width(), q.height()) == (512, 384)


@pytest.mark.parametrize("content,reason", [(None, "can no longer be read"), (b"\xff\xd8\xff\xe0junk", "JPEG")])
def test_a_bad_file_gives_a_reason(tmp_path, content, reason):
    path = tmp_path / "b.jpg"
    if content is not None:
        path.write_bytes(content)
    img = load_for_viewer(sha(path) if content is not None else "0" * 64, path)
    assert reason in img.error and img.qimage is None


def test_cache_loads_in_the_background_and_keeps_the_most_recent(qtbot, tmp_path):
    tasks = TaskRunner()
    cache = ImageCache(tasks, lambda: None, capacity=2)
    try:
        paths = [png(tmp_path / f"{i}.png", 40 + i) for i in range(3)]
        ids = [sha(p) for p in paths]
        for image_id, p in zip(ids, paths):
            with qtbot.waitSignal(cache.loaded, timeout=30000) as sig:
                cache.request(image_id, p)
            assert sig.args == [image_id]
        assert cache.get(ids[0]) is None  # evicted: capacity 2
        assert cache.get(ids[2]).error == "" and cache.get(ids[1]) is not None
        with qtbot.assertNotEmitted(cache.loaded, wait=50):
            cache.request(ids[2], paths[2])  # cached: nothing to do
        cache.clear()
        assert cache.get(ids[2]) is None
    finally:
        tasks.shutdown()


def test_a_request_after_the_task_runner_shut_down_is_dropped(qtbot, tmp_path):
    """A late request (a paint waiter firing as the window closes) neither raises nor stays in flight."""
    tasks = TaskRunner()
    cache = ImageCache(tasks, lambda: None)
    tasks.shutdown()
    p = png(tmp_path / "late.png")
    with qtbot.assertNotEmitted(cache.loaded, wait=50):
        cache.request(sha(p), p, urgent=True)
    assert cache.get(sha(p)) is None and not cache._in_flight
