"""The viewer's loupe: a square magnifier centred on the mouse pointer that shows the image pixels
under it at 1:1 (one image pixel per screen pixel) when the image is shown smaller than that — the
usual case for a fitted radiograph — and at twice the current zoom otherwise. It shows the image
as windowed and oriented on screen (rotation and flips), without the heatmap, and says its
magnification in a corner. It never takes the focus or a mouse click.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QWidget

SIDE = 240  # logical pixels


def loupe_scale(zoom: float, device_ratio: float = 1.0) -> float:
    """Screen (logical) pixels per image pixel in the loupe: 1:1 on the physical screen when the
    view is smaller than that, else twice the view's zoom."""
    one_to_one = 1.0 / max(device_ratio, 1e-6)
    return one_to_one if zoom < one_to_one / 2 else 2.0 * zoom


class Loupe(QWidget):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("loupe")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.resize(SIDE, SIDE)
        self._content = QPixmap()
        self.scale = 1.0
        self._offset = QPointF(0, 0)
        self.hide()

    @property
    def content(self) -> QPixmap:
        """What the loupe shows now (for tests and the screenshot script)."""
        return self._content

    def show_at(self, pos: QPoint, source: QPixmap, scene_point: QPointF, orientation: QTransform,
                zoom: float) -> None:
        """Centre on viewport point ``pos``, showing ``source`` (the displayed image) around the image
        point ``scene_point``, turned like the view (``orientation``: rotation and flips, no zoom)."""
        if source.isNull():
            self.hide()
            return
        self.scale = loupe_scale(zoom, self.devicePixelRatioF())
        span = SIDE / self.scale  # image pixels across the loupe
        region = QRectF(scene_point.x() - span / 2, scene_point.y() - span / 2, span, span).toAlignedRect()
        region = region.intersected(QRect(0, 0, source.width(), source.height()))
        if region.isEmpty():
            self.hide()
            return
        crop = source.copy(region).transformed(orientation)
        mode = (Qt.TransformationMode.FastTransformation if self.scale >= 1.0
                else Qt.TransformationMode.SmoothTransformation)
        self._content = crop.scaled(max(1, round(crop.width() * self.scale)), max(1, round(crop.height() * self.scale)),
                                    Qt.AspectRatioMode.IgnoreAspectRatio, mode)
        # where the pointer's image point falls inside the (cropped, turned, scaled) content
        local = orientation.map(QPointF(scene_point.x() - region.x(), scene_point.y() - region.y()))
        box = orientation.mapRect(QRectF(0, 0, region.width(), region.height()))
        self._offset = QPointF((local.x() - box.x()) * self.scale, (local.y() - box.y()) * self.scale)
        self.move(pos - QPoint(SIDE // 2, SIDE // 2))
        self.show()
        self.raise_()
        self.update()

    def label(self) -> str:
        return "1:1" if abs(self.scale * self.devicePixelRatioF() - 1.0) < 1e-6 else f"{self.scale * self.devicePixelRatioF():.1f}×"

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        if not self._content.isNull():
            p.drawPixmap(QPointF(SIDE / 2 - self._offset.x(), SIDE / 2 - self._offset.y()), self._content)
        p.setPen(QPen(QColor("#e8a33d"), 2))
        p.drawRect(self.rect().adjusted(1, 1, -1, -1))
        p.setPen(QColor("#e6ebf0"))
        p.fillRect(QRect(2, 2, 40, 18), QColor(20, 24, 28, 200))
        p.drawText(QRect(2, 2, 40, 18), Qt.AlignmentFlag.AlignCenter, self.label())
        p.end()
