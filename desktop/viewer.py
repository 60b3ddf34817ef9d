"""The image viewer: a QGraphicsView on a dark neutral background.

Fit to window, zoom about the cursor (wheel, + / −), pan by dragging, 1:1, window/level by right-drag
with presets (``core.imaging.presets``: as read, the file's windows, data-driven) and reset — a
window is applied with its preset's VOI LUT function and the file's Presentation LUT, and a drag
keeps that function —, invert, rotate 90° both ways, flip horizontally / vertically (in screen
space: the orientation is a rotation plus an optional left–right mirror), a 1:1 loupe
(``desktop.loupe``), and the model's class-activation heatmap as an overlay with adjustable opacity.
Nothing is drawn over the image except the heatmap and the loupe (the probability and flag are in
the review pane's header strip). ``shown`` is emitted after an image has actually been painted (the latency measurement ends there).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from PySide6.QtCore import QPoint, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QLabel, QWidget

from core.imaging.window import apply_window, range_window
from desktop import theme
from desktop.loupe import Loupe
from desktop.prefetch import LoadedImage

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 40.0


class ImageViewer(QGraphicsView):
    shown = Signal(str)  # image_id, after the image was painted
    view_changed = Signal()  # zoom / window / invert / rotation / heatmap changed (for the toolbar)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewer")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._pix = QGraphicsPixmapItem()
        self._pix.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._heat = QGraphicsPixmapItem()
        self._heat.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._heat.setZValue(1)
        self._scene.addItem(self._pix)
        self._scene.addItem(self._heat)
        self.setBackgroundBrush(theme.VIEWER_BACKGROUND)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._message = QLabel(self)
        self._message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message.setWordWrap(True)
        self._message.setStyleSheet("color: #aab4be; font-size: 12pt;")
        self._message.hide()
        self.loupe = Loupe(self.viewport())
        self._loupe_on = False
        self._image: Optional[LoadedImage] = None
        self._display_buf: Optional[np.ndarray] = None
        self._zoom = 1.0
        self._rotation = 0
        self._mirrored = False  # a left–right mirror after the rotation (screen space)
        self._fit_mode = True
        self._invert = False
        self._window: Optional[tuple[float, float]] = None  # None: the image as read
        self._function = "LINEAR"  # the VOI LUT function ``_window`` is applied with
        self._preset = 0
        self._heat_visible = False
        self._heat_opacity = 0.45
        self._wl_drag: Optional[tuple[QPoint, tuple[float, float]]] = None
        self._render_pending = False
        self._pending_shown: Optional[str] = None

    # -- content ---------------------------------------------------------------------------------------
    @property
    def image(self) -> Optional[LoadedImage]:
        return self._image

    def set_image(self, img: Optional[LoadedImage], message: str = "") -> None:
        """Show ``img`` fitted, with the window as read (None: an empty view with ``message``)."""
        self._image = img
        self._window, self._preset, self._invert, self._rotation, self._mirrored = None, 0, False, 0, False
        self._function = self._preset_function(0)
        self._fit_mode = True
        self.loupe.hide()
        if img is None or img.qimage is None:
            self._pix.setPixmap(QPixmap())
            self._heat.setPixmap(QPixmap())
            self._display_buf = None
            self._show_message(message or (img.error if img is not None else ""))
            self._pending_shown = img.image_id if img is not None else None
            self.viewport().update()
            return
        self._message.hide()
        self._display_buf = None
        self._pix.setPixmap(QPixmap.fromImage(img.qimage))
        rect = QRectF(0, 0, img.qimage.width(), img.qimage.height())
        margin = max(rect.width(), rect.height())
        self._scene.setSceneRect(rect.adjusted(-margin, -margin, margin, margin))
        if img.heatmap is not None:
            self._heat.setPixmap(QPixmap.fromImage(img.heatmap))
            s = rect.width() / img.heatmap.width()
            self._heat.setTransform(QTransform.fromScale(s, rect.height() / img.heatmap.height() if s else 1))
        else:
            self._heat.setPixmap(QPixmap())
        self._update_heat()
        self.fit()
        self._pending_shown = img.image_id
        self.viewport().update()
        self.view_changed.emit()

    def announce(self, image_id: str) -> None:
        """The image shown is (again) the one the reader came to: the next paint emits ``shown``."""
        self._pending_shown = image_id
        self.viewport().update()

    def _show_message(self, text: str) -> None:
        self._message.setText(text)
        self._message.setVisible(bool(text))
        self._layout_overlays()

    # -- geometry --------------------------------------------------------------------------------------
    def orientation(self) -> QTransform:
        """The view's rotation and flips without the zoom (image → screen directions)."""
        t = QTransform().rotate(self._rotation)
        return t * QTransform.fromScale(-1, 1) if self._mirrored else t

    def _apply_transform(self) -> None:
        self.setTransform(self.orientation() * QTransform.fromScale(self._zoom, self._zoom))

    def fit(self) -> None:
        """Fit the whole image in the window (keeps rotation)."""
        self._fit_mode = True
        if self._image is None or self._pix.pixmap().isNull():
            return
        rect = self._pix.boundingRect()
        rotated = self.orientation().mapRect(rect)
        vp = self.viewport().rect()
        if rotated.width() <= 0 or rotated.height() <= 0 or vp.width() <= 0:
            return
        self._zoom = max(MIN_ZOOM, min((vp.width() - 16) / rotated.width(), (vp.height() - 16) / rotated.height()))
        self._apply_transform()
        self.centerOn(rect.center())
        self.view_changed.emit()

    def zoom_by(self, factor: float, anchor: Optional[QPoint] = None) -> None:
        """Zoom by ``factor`` keeping the scene point under ``anchor`` (viewport coords) in place."""
        if self._image is None:
            return
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        before = self.mapToScene(anchor)
        new_zoom = min(MAX_ZOOM, max(MIN_ZOOM, self._zoom * factor))
        if math.isclose(new_zoom, self._zoom):
            return
        self._zoom = new_zoom
        self._fit_mode = False
        self._apply_transform()
        delta = self.mapFromScene(before) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
        self.view_changed.emit()

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def actual_size(self) -> None:
        """One image pixel per physical screen pixel."""
        if self._image is None:
            return
        self.zoom_by((1.0 / self.devicePixelRatioF()) / self._zoom)

    def rotate90(self, clockwise: bool = True) -> None:
        """Turn the image a quarter on screen (clockwise, or counter-clockwise)."""
        turn = 90 if clockwise else -90
        self._rotation = (self._rotation + (-turn if self._mirrored else turn)) % 360
        self._reorient()

    def rotate_left(self) -> None:
        self.rotate90(clockwise=False)

    def flip_horizontal(self) -> None:
        """Mirror left–right as seen on screen."""
        self._mirrored = not self._mirrored
        self._reorient()

    def flip_vertical(self) -> None:
        """Mirror top–bottom as seen on screen (a left–right mirror and half a turn)."""
        self._mirrored = not self._mirrored
        self._rotation = (self._rotation + 180) % 360
        self._reorient()

    def _reorient(self) -> None:
        if self._fit_mode:
            self.fit()
        else:
            centre = self.mapToScene(self.viewport().rect().center())
            self._apply_transform()
            self.centerOn(centre)
        self.loupe.hide()
        self.view_changed.emit()

    def reset_view(self) -> None:
        """Fit, no rotation or flip, window as read, not inverted."""
        self._rotation, self._mirrored, self._invert, self._window, self._preset = 0, False, False, None, 0
        self._function = self._preset_function(0)
        self._render()
        self.fit()

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def rotation(self) -> int:
        return self._rotation

    @property
    def mirrored(self) -> bool:
        """Shown mirrored left–right (after ``rotation``): left and right are swapped on screen."""
        return self._mirrored

    def orientation_text(self) -> str:
        """The orientation in words for the info panel ("" when as acquired)."""
        if self._mirrored and self._rotation == 180:
            return "flipped top–bottom"
        bits = [f"rotated {self._rotation}°"] if self._rotation else []
        if self._mirrored:
            bits.append("flipped left–right")
        return ", ".join(bits)

    # -- loupe -----------------------------------------------------------------------------------------
    @property
    def loupe_on(self) -> bool:
        return self._loupe_on

    def set_loupe(self, on: bool) -> None:
        """The 1:1 loupe follows the mouse pointer over the image while on."""
        self._loupe_on = bool(on)
        self.viewport().setMouseTracking(self._loupe_on)
        if self._loupe_on:
            pos = self.viewport().mapFromGlobal(self.cursor().pos())
            if self.viewport().rect().contains(pos):
                self._update_loupe(pos)
        else:
            self.loupe.hide()
        self.view_changed.emit()

    def toggle_loupe(self) -> None:
        self.set_loupe(not self._loupe_on)

    def _update_loupe(self, pos: QPoint) -> None:
        if not self._loupe_on or self._image is None or self._pix.pixmap().isNull():
            self.loupe.hide()
            return
        self.loupe.show_at(pos, self._pix.pixmap(), self.mapToScene(pos), self.orientation(), self._zoom)

    # -- window / level / invert -----------------------------------------------------------------------
    @property
    def inverted(self) -> bool:
        return self._invert

    @property
    def window(self) -> Optional[tuple[float, float]]:
        return self._window

    def set_inverted(self, on: bool) -> None:
        self._invert = bool(on)
        self._schedule_render()
        self.view_changed.emit()

    def toggle_invert(self) -> None:
        self.set_inverted(not self._invert)

    def apply_preset(self, index: int) -> None:
        """0-based preset from the image's list (0 = as read)."""
        img = self._image
        if img is None or not img.presets or not 0 <= index < len(img.presets):
            return
        self._preset = index
        self._window = img.presets[index].window
        self._function = self._preset_function(index)
        self._schedule_render()
        self.view_changed.emit()

    def _preset_function(self, index: int) -> str:
        img = self._image
        if img is not None and img.presets and 0 <= index < len(img.presets):
            return img.presets[index].function
        return img.window_function if img is not None and img.window is not None else "LINEAR"

    @property
    def preset_index(self) -> int:
        """The preset shown (0-based), -1 after a window/level drag."""
        return self._preset

    @property
    def window_function(self) -> str:
        """The VOI LUT function the current window is applied with (kept under a drag)."""
        return self._function

    def preset_name(self) -> str:
        img = self._image
        if img is None or not img.presets:
            return ""
        if self._preset < 0:
            return "Custom" + (f" ({self._function.lower()})" if self._function == "SIGMOID" else "")
        return img.presets[self._preset].label

    def set_window(self, center: float, width: float) -> None:
        """A custom window (a right-drag), applied with the current preset's VOI LUT function."""
        self._window = (float(center), max(1.0, float(width)))
        self._preset = -1
        self._schedule_render()
        self.view_changed.emit()

    def _current_window(self) -> tuple[float, float]:
        if self._window is not None:
            return self._window
        img = self._image
        if img is not None and img.raw is not None and img.window is not None:
            return img.window
        return range_window(0, 255)

    def _schedule_render(self) -> None:
        if not self._render_pending:
            self._render_pending = True
            QTimer.singleShot(0, self._render)

    def _render(self) -> None:
        self._render_pending = False
        img = self._image
        if img is None or img.grey is None:
            return
        if self._window is None and not self._invert:
            self._display_buf = None
            self._pix.setPixmap(QPixmap.fromImage(img.qimage))
            return
        if img.raw is not None:
            if self._window is None:
                out = img.grey if not self._invert else 255 - img.grey
            else:
                c, w = self._window  # with the preset's VOI LUT function (a SIGMOID file keeps its look)
                out = apply_window(img.raw, c, w, img.inverted != self._invert, function=self._function,
                                   presentation=img.presentation_lut)
        else:
            c, w = self._window if self._window is not None else range_window(0, 255)
            lut = apply_window(np.arange(256, dtype=np.float32), c, w, self._invert)
            out = lut[img.grey]
        self._display_buf = np.ascontiguousarray(out, dtype=np.uint8)
        h, w_ = self._display_buf.shape
        q = QImage(self._display_buf.data, w_, h, w_, QImage.Format.Format_Grayscale8)
        self._pix.setPixmap(QPixmap.fromImage(q))
        if self.loupe.isVisible():
            self._update_loupe(self.loupe.geometry().center())

    # -- heatmap ---------------------------------------------------------------------------------------
    @property
    def has_heatmap(self) -> bool:
        return self._image is not None and self._image.heatmap is not None

    @property
    def heatmap_visible(self) -> bool:
        return self._heat_visible

    def set_heatmap_visible(self, on: bool) -> None:
        self._heat_visible = bool(on)
        self._update_heat()
        self.view_changed.emit()

    def set_heatmap_opacity(self, opacity: float) -> None:
        self._heat_opacity = min(1.0, max(0.0, float(opacity)))
        self._update_heat()

    def _update_heat(self) -> None:
        self._heat.setVisible(self._heat_visible and self.has_heatmap)
        self._heat.setOpacity(self._heat_opacity)

    # -- events ----------------------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        dy = event.angleDelta().y()
        if dy:
            self.zoom_by(math.pow(1.0015, dy), event.position().toPoint())
        if self._loupe_on:
            self._update_loupe(event.position().toPoint())
        event.accept()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.RightButton and self._image is not None and self._image.grey is not None:
            self._wl_drag = (event.position().toPoint(), self._current_window())
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._wl_drag is not None:
            start, (c0, w0) = self._wl_drag
            d = event.position().toPoint() - start
            src = self._image.source if self._image is not None else None
            span = float(src.max() - src.min()) if src is not None and src.size else 255.0
            step = max(span, 1.0) / 400.0
            self.set_window(c0 - d.y() * step, max(1.0, w0 + d.x() * step))
            event.accept()
            return
        super().mouseMoveEvent(event)
        if self._loupe_on:
            self._update_loupe(event.position().toPoint())

    def leaveEvent(self, event) -> None:
        self.loupe.hide()
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._wl_drag is not None and event.button() == Qt.MouseButton.RightButton:
            self._wl_drag = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit()

    def contextMenuEvent(self, event) -> None:  # right button is window/level, not a menu
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()
        self._layout_overlays()

    def _layout_overlays(self) -> None:
        r = self.viewport().rect()
        self._message.setGeometry(r.adjusted(40, 40, -40, -40))

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self._pending_shown is not None:
            image_id, self._pending_shown = self._pending_shown, None
            self.shown.emit(image_id)
