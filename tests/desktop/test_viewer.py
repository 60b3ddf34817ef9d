"""``desktop.viewer.ImageViewer`` on its own: re-windowing keeps the image's VOI LUT function (a
SIGMOID DICOM looks the same on the first drag), presets, invert, rotate and zoom."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QGraphicsPixmapItem

from core.imaging.presets import compute_presets
from core.imaging.window import apply_window
from desktop.prefetch import LoadedImage, grey_qimage
from desktop.viewer import ImageViewer


def shown_pixels(v: ImageViewer) -> np.ndarray:
    """The greyscale pixels the viewer's image item shows now."""
    item = next(i for i in v.scene().items() if isinstance(i, QGraphicsPixmapItem) and i.zValue() == 0)
    q = item.pixmap().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    ptr = q.constBits()
    return np.frombuffer(ptr, np.uint8, q.bytesPerLine() * q.height()).reshape(q.height(), q.bytesPerLine())[:, : q.width()].copy()


def dicom_like(function: str, center=2000.0, width=1000.0) -> LoadedImage:
    raw = np.linspace(0, 4000, 64 * 48, dtype=np.float32).reshape(48, 64)
    grey = apply_window(raw, center, width, function=function)
    img = LoadedImage("abc", path=__import__("pathlib").Path("x.dcm"), grey=grey, raw=raw, qimage=grey_qimage(grey),
                      width=64, height=48, format="DICOM", window=(center, width), window_function=function)
    img.presets = compute_presets(raw, img.window)
    return img


@pytest.fixture
def viewer(qtbot):
    v = ImageViewer()
    qtbot.addWidget(v)
    v.resize(400, 300)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.mark.parametrize("function", ["SIGMOID", "LINEAR_EXACT", "LINEAR"])
def test_rewindowing_keeps_the_voi_lut_function(viewer, qtbot, function):
    img = dicom_like(function)
    viewer.set_image(img)
    before = shown_pixels(viewer)
    assert np.array_equal(before, img.grey)
    viewer.set_window(*img.window)  # the first step of a right-drag: the same window
    qtbot.waitUntil(lambda: viewer._render_pending is False)
    assert np.array_equal(shown_pixels(viewer), img.grey)  # was LINEAR for every image: SIGMOID changed look
    viewer.set_window(img.window[0] + 300, img.window[1])
    qtbot.waitUntil(lambda: viewer._render_pending is False)
    expected = apply_window(img.raw, img.window[0] + 300, img.window[1], function=function)
    assert np.array_equal(shown_pixels(viewer), expected)


def test_presets_invert_and_reset(viewer, qtbot):
    img = dicom_like("LINEAR")
    viewer.set_image(img)
    viewer.apply_preset(1)
    qtbot.waitUntil(lambda: viewer._render_pending is False)
    assert viewer.preset_name() == "Full range" and viewer.window == img.presets[1][1]
    full = shown_pixels(viewer)
    assert full.min() == 0 and full.max() == 255
    viewer.toggle_invert()
    qtbot.waitUntil(lambda: viewer._render_pending is False)
    assert viewer.inverted and np.array_equal(shown_pixels(viewer), 255 - full)
    viewer.set_window(100, 50)
    assert viewer.preset_name() == "Custom"
    viewer.reset_view()
    assert not viewer.inverted and viewer.window is None and np.array_equal(shown_pixels(viewer), img.grey)


def test_rotate_zoom_fit(viewer):
    viewer.set_image(dicom_like("LINEAR"))
    fitted = viewer.zoom
    viewer.zoom_in()
    assert viewer.zoom == pytest.approx(fitted * 1.25)
    viewer.rotate90()
    assert viewer.rotation == 90
    viewer.fit()
    assert viewer.zoom == pytest.approx(min((400 - 16) / 48, (300 - 16) / 64), rel=0.05)


def test_an_image_that_could_not_be_read_shows_its_reason(viewer):
    viewer.set_image(LoadedImage("x", __import__("pathlib").Path("x.jpg"), error="truncated JPEG"))
    assert viewer.image is not None and viewer.image.qimage is None
    assert viewer._message.text() == "truncated JPEG" and viewer._message.isVisible()
