"""``desktop.viewer.ImageViewer`` on its own: re-windowing keeps the image's VOI LUT function (a
SIGMOID DICOM looks the same on the first drag, its other file windows are SIGMOID too, the
data-driven presets LINEAR), the Presentation LUT under every window, presets, invert, rotate both
ways, flips in screen space, the 1:1 loupe, and zoom."""

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


def dicom_like(function: str, center=2000.0, width=1000.0, *, windows=(), plut=None, size=(48, 64)) -> LoadedImage:
    h, w = size
    raw = np.linspace(0, 4000, h * w, dtype=np.float32).reshape(h, w)
    grey = apply_window(raw, center, width, function=function, presentation=plut)
    img = LoadedImage("abc", path=__import__("pathlib").Path("x.dcm"), grey=grey, raw=raw, qimage=grey_qimage(grey),
                      width=w, height=h, format="DICOM", window=(center, width), window_function=function,
                      presentation_lut=plut)
    img.presets = compute_presets(raw, img.window, file_windows=windows, function=function)
    return img


def rendered(viewer, qtbot) -> np.ndarray:
    qtbot.waitUntil(lambda: viewer._render_pending is False)
    return shown_pixels(viewer)


@pytest.fixture
def viewer(qtbot):
    v = ImageViewer()
    qtbot.addWidget(v)
    v.resize(400, 300)
    with qtbot.waitExposed(v):
        v.show()
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
    assert viewer.preset_name() == "Full range" and viewer.window == img.presets[1].window
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


def test_a_sigmoid_files_windows_stay_sigmoid_and_data_presets_are_linear(viewer, qtbot):
    windows = (("STANDARD", (2000.0, 1000.0)), ("BONE", (3200.0, 600.0)))
    img = dicom_like("SIGMOID", windows=windows)
    viewer.set_image(img)
    assert viewer.preset_name() == "STANDARD (file)" and viewer.window_function == "SIGMOID"
    viewer.apply_preset(1)
    assert viewer.preset_name() == "BONE (file)"
    assert np.array_equal(rendered(viewer, qtbot), apply_window(img.raw, 3200, 600, function="SIGMOID"))
    viewer.set_window(3100, 700)  # a drag from the file's window keeps its function
    assert viewer.window_function == "SIGMOID" and viewer.preset_name() == "Custom (sigmoid)"
    assert np.array_equal(rendered(viewer, qtbot), apply_window(img.raw, 3100, 700, function="SIGMOID"))
    viewer.apply_preset(2)  # Full range: a linear range, black to white
    assert viewer.preset_name() == "Full range" and viewer.window_function == "LINEAR"
    full = rendered(viewer, qtbot)
    assert full.min() == 0 and full.max() == 255
    viewer.set_window(2000, 1000)  # dragged from a linear preset: linear
    assert np.array_equal(rendered(viewer, qtbot), apply_window(img.raw, 2000, 1000))
    viewer.reset_view()
    assert viewer.window_function == "SIGMOID" and np.array_equal(shown_pixels(viewer), img.grey)


def test_the_presentation_lut_applies_under_every_window(viewer, qtbot):
    plut = np.rint(np.sqrt(np.arange(256) / 255.0) * 255).astype(np.uint8)
    img = dicom_like("LINEAR", plut=plut)
    viewer.set_image(img)
    viewer.set_window(1000, 1500)
    assert np.array_equal(rendered(viewer, qtbot), plut[apply_window(img.raw, 1000, 1500)])
    viewer.toggle_invert()  # the reader's invert comes after the file's presentation
    assert np.array_equal(rendered(viewer, qtbot), 255 - plut[apply_window(img.raw, 1000, 1500)])


def corners(viewer) -> list:
    """Where the image's corners (0,0), (w,0), (0,h) land on screen, rounded, relative to the centre."""
    img = viewer.image
    c = viewer.mapFromScene(img.width / 2, img.height / 2)
    pts = [viewer.mapFromScene(x, y) for x, y in ((0, 0), (img.width, 0), (0, img.height))]
    return [(int(np.sign(p.x() - c.x())), int(np.sign(p.y() - c.y()))) for p in pts]


def test_flips_and_rotations_are_in_screen_space(viewer):
    viewer.set_image(dicom_like("LINEAR"))
    tl, tr, bl = corners(viewer)
    assert (tl, tr, bl) == ((-1, -1), (1, -1), (-1, 1))  # as acquired
    viewer.flip_horizontal()
    assert corners(viewer) == [(1, -1), (-1, -1), (1, 1)] and viewer.mirrored
    assert viewer.orientation_text() == "flipped left–right"
    viewer.rotate90()  # after a flip, still a clockwise turn of what is on screen
    assert corners(viewer) == [(1, 1), (1, -1), (-1, 1)]
    viewer.rotate_left()
    assert corners(viewer) == [(1, -1), (-1, -1), (1, 1)]
    viewer.flip_horizontal()
    assert corners(viewer) == [(-1, -1), (1, -1), (-1, 1)] and not viewer.mirrored and viewer.rotation == 0
    viewer.flip_vertical()
    assert corners(viewer) == [(-1, 1), (1, 1), (-1, -1)] and viewer.orientation_text() == "flipped top–bottom"
    viewer.flip_vertical()
    viewer.rotate_left()
    assert corners(viewer) == [(-1, 1), (-1, -1), (1, 1)] and viewer.rotation == 270
    viewer.flip_horizontal()
    viewer.reset_view()
    assert corners(viewer) == [(-1, -1), (1, -1), (-1, 1)] and viewer.orientation_text() == ""
    assert viewer.zoom == pytest.approx(min((400 - 16) / 64, (300 - 16) / 48), rel=0.05)  # fitted again


def test_the_loupe_shows_the_pixels_under_the_pointer_at_1_to_1(viewer, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest

    img = dicom_like("LINEAR", center=2000, width=4000, size=(900, 1200))  # fitted at about 1/3
    viewer.set_image(img)
    assert viewer.zoom < 0.5
    viewer.set_loupe(True)
    pos = QPoint(150, 120)
    QTest.mouseMove(viewer.viewport(), pos)
    qtbot.waitUntil(lambda: viewer.loupe.isVisible())
    assert viewer.loupe.label() == "1:1"
    shot = viewer.loupe.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    p = viewer.mapToScene(pos)
    expected = int(img.grey[int(p.y()), int(p.x())])
    side = shot.width()
    assert abs(shot.pixelColor(side // 2, side // 2).value() - expected) <= 2  # centre: the pixel under the pointer
    column = [shot.pixelColor(side // 2, y).value() for y in range(20, side - 20)]
    per_row = 255 / 900  # the ramp's grey step per image row
    assert abs((max(column) - min(column)) - (side - 41) * per_row) <= 6  # one image row per screen pixel
    viewer.flip_horizontal()  # the loupe follows the view's orientation
    QTest.mouseMove(viewer.viewport(), pos + QPoint(1, 0))
    qtbot.waitUntil(lambda: viewer.loupe.isVisible())
    flipped = viewer.loupe.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    assert flipped.pixelColor(30, side // 2).value() >= flipped.pixelColor(side - 30, side // 2).value()
    viewer.set_loupe(False)
    assert not viewer.loupe.isVisible()
