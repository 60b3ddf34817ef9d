"""Two small QPainter plots for the Model dialog (matplotlib is not in the bundle): the ROC curve with
both active operating points marked, and the calibration (reliability) plot with the bin counts.
They draw what ``core.evaluation.performance.report`` computed; no statistics here."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

AXIS = QColor("#9aa4b1")
CURVE = QColor("#4aa3ff")
SUSPICIOUS = QColor("#e8a33d")
DEFINITE = QColor("#e0525a")
DIAGONAL = QColor("#5b6573")


class _Plot(QWidget):
    title = ""
    x_label = ""
    y_label = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(260, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.message = "No figures yet."

    def sizeHint(self) -> QSize:
        return QSize(340, 300)

    def _frame(self, p: QPainter) -> QRectF:
        r = QRectF(self.rect()).adjusted(46, 28, -14, -40)
        side = min(r.width(), r.height())
        return QRectF(r.left(), r.top(), side, side)

    def _map(self, box: QRectF, x: float, y: float) -> QPointF:
        return QPointF(box.left() + x * box.width(), box.bottom() - y * box.height())

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        box = self._frame(p)
        f = QFont(self.font())
        p.setPen(self.palette().text().color())
        f.setBold(True)
        p.setFont(f)
        p.drawText(QRectF(0, 4, self.width(), 20), Qt.AlignmentFlag.AlignHCenter, self.title)
        f.setBold(False)
        p.setFont(f)
        p.setPen(QPen(AXIS, 1))
        p.drawRect(box)
        for i in range(0, 11, 2):
            v = i / 10
            a, b = self._map(box, v, 0), self._map(box, 0, v)
            p.drawLine(a, a + QPointF(0, 4))
            p.drawLine(b, b - QPointF(4, 0))
            p.drawText(QRectF(a.x() - 15, a.y() + 5, 30, 14), Qt.AlignmentFlag.AlignHCenter, f"{v:.1f}")
            p.drawText(QRectF(b.x() - 40, b.y() - 7, 34, 14), Qt.AlignmentFlag.AlignRight, f"{v:.1f}")
        p.drawText(QRectF(box.left(), box.bottom() + 20, box.width(), 16), Qt.AlignmentFlag.AlignHCenter, self.x_label)
        p.save()
        p.translate(10, box.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-box.height() / 2, -8, box.height(), 16), Qt.AlignmentFlag.AlignHCenter, self.y_label)
        p.restore()
        p.setPen(QPen(DIAGONAL, 1, Qt.PenStyle.DashLine))
        p.drawLine(self._map(box, 0, 0), self._map(box, 1, 1))
        if not self.draw_data(p, box):
            p.setPen(self.palette().text().color())
            p.drawText(box.adjusted(8, 8, -8, -8), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        p.end()

    def draw_data(self, p: QPainter, box: QRectF) -> bool:  # pragma: no cover - overridden
        return False


class RocPlot(_Plot):
    title = "ROC on this clinic's labels"
    x_label = "1 − specificity"
    y_label = "sensitivity"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fpr: list[float] = []
        self.tpr: list[float] = []
        self.points: list[tuple[str, float, float]] = []  # (name, 1-spec, sens)

    def set_report(self, rep: dict | None) -> None:
        roc = (rep or {}).get("curves", {}).get("roc")
        self.fpr, self.tpr, self.points = (roc["fpr"], roc["tpr"], []) if roc else ([], [], [])
        if roc:
            for name in ("suspicious", "definite"):
                pt = rep[name]
                self.points.append((name, 1 - pt["specificity"]["value"], pt["sensitivity"]["value"]))
        self.message = (rep or {}).get("message", "No figures yet.")
        self.update()

    def draw_data(self, p: QPainter, box: QRectF) -> bool:
        if len(self.fpr) < 2:
            return False
        path = QPainterPath(self._map(box, self.fpr[0], self.tpr[0]))
        for x, y in zip(self.fpr[1:], self.tpr[1:]):
            path.lineTo(self._map(box, x, y))
        p.setPen(QPen(CURVE, 2))
        p.drawPath(path)
        for i, (name, x, y) in enumerate(self.points):
            colour = SUSPICIOUS if name == "suspicious" else DEFINITE
            c = self._map(box, x, y)
            p.setPen(QPen(colour.darker(150), 1))
            p.setBrush(colour)
            p.drawEllipse(c, 6, 6)
            p.setPen(colour)
            p.drawText(QRectF(box.left() + 10, box.bottom() - 40 + 16 * i, box.width() - 20, 16),
                       Qt.AlignmentFlag.AlignRight, f"● {name}: sens {y:.0%}, spec {1 - x:.0%}")
        p.setBrush(Qt.BrushStyle.NoBrush)
        return True


class CalibrationPlot(_Plot):
    title = "Calibration (10 bins)"
    x_label = "predicted probability"
    y_label = "observed fracture rate"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bins: list[tuple[float, float, int]] = []

    def set_report(self, rep: dict | None) -> None:
        cal = (rep or {}).get("curves", {}).get("calibration")
        self.bins = list(zip(cal["mean_predicted"], cal["observed"], cal["count"])) if cal else []
        self.message = (rep or {}).get("message", "No figures yet.")
        self.update()

    def draw_data(self, p: QPainter, box: QRectF) -> bool:
        if not self.bins:
            return False
        biggest = max(n for _, _, n in self.bins)
        p.setPen(QPen(CURVE, 2))
        prev = None
        for x, y, _n in self.bins:
            c = self._map(box, x, y)
            if prev is not None:
                p.drawLine(prev, c)
            prev = c
        for x, y, n in self.bins:
            c = self._map(box, x, y)
            r = 3 + 7 * (n / biggest) ** 0.5
            p.setBrush(CURVE)
            p.drawEllipse(c, r, r)
            p.setPen(self.palette().text().color())
            p.drawText(QRectF(c.x() + r + 2, c.y() - 8, 50, 16), Qt.AlignmentFlag.AlignLeft, str(n))
            p.setPen(QPen(CURVE, 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        return True
