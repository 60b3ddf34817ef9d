"""The study's views side by side: what the review pane shows while a study row is current (study
mode). Each view is drawn whole in its cell (the display image as decoded by the prefetcher, window as
acquired) with a caption — its place in the study, file name, score and decision — and the cell of the
view with the highest score outlined in its flag's colour (neither in blinded reading). A click on a
cell steps into that view
(full viewer: window/level, zoom, heatmap); nothing is decided here. ``shown`` says when the study is
on screen — painted with all its views decoded — which is where the reader's time to decide starts.
"""

from __future__ import annotations

import math
from typing import Optional

from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop import theme

CAPTION_H = 40
GAP = 8
MAX_SHOWN = 9  # more views than that: the first nine by score, and "+N more" said in the last caption


def grid_shape(n: int, width: int, height: int) -> tuple[int, int]:
    """(columns, rows) for ``n`` cells that gives the cells the largest square-ish area."""
    if n <= 0:
        return (1, 1)
    best, best_side = (n, 1), -1.0
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        side = min(width / cols, max(1.0, height / rows - CAPTION_H))
        if side > best_side:
            best, best_side = (cols, rows), side
    return best


class StudyGrid(QWidget):
    view_clicked = Signal(str)  # image id of the view clicked
    shown = Signal(str)  # study key, once per study: painted with every view in it decoded (or failed)

    def __init__(self, cache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studyGrid")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.cache = cache
        self.study = None
        self.blinded = False  # the model is hidden (core.reading): no scores, no highest view outlined
        self._cells: list[tuple[QRect, object]] = []
        self._announced: Optional[str] = None  # the study whose ``shown`` was emitted
        cache.loaded.connect(self._loaded)

    def show_study(self, study) -> None:
        """Show ``study``'s views (a ``core.studies.StudyItem``; None: nothing) and ask for their images."""
        if study is None or self.study is None or study.key != self.study.key:
            self._announced = None
        self.study = study
        if study is not None:
            for v in study.views[:MAX_SHOWN]:
                if v.error is None and v.image_id:
                    self.cache.request(v.image_id, v.path)
        self.update()

    def set_blinded(self, on: bool) -> None:
        self.blinded = bool(on)
        self.update()

    def _loaded(self, image_id: str) -> None:
        if self.study is not None and any(v.image_id == image_id for v in self.study.views[:MAX_SHOWN]):
            self.update()

    def cells(self) -> list[tuple[QRect, object]]:
        """(rectangle, view) of each cell as last painted (tests, clicks)."""
        return list(self._cells)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#0b0d10"))
        self._cells = []
        st = self.study
        if st is None or not st.views:
            p.end()
            return
        views = list(st.views[:MAX_SHOWN])
        area = self.rect().adjusted(GAP, GAP, -GAP, -GAP)
        cols, rows = grid_shape(len(views), area.width(), area.height())
        cw = (area.width() - GAP * (cols - 1)) // cols
        ch = (area.height() - GAP * (rows - 1)) // rows
        top = (max(v.probability or 0.0 for v in views if v.error is None)
               if st.readable and not self.blinded else None)
        small = QFont(self.font())
        small.setPointSizeF(max(8.0, self.font().pointSizeF() * 0.95))
        for n, v in enumerate(views):
            r, c = divmod(n, cols)
            cell = QRect(area.left() + c * (cw + GAP), area.top() + r * (ch + GAP), cw, ch)
            self._cells.append((cell, v))
            self._paint_cell(p, cell, v, n, len(st.views), top, small)
        p.end()
        if self._announced != st.key and all(self.cache.get(v.image_id) is not None for v in views
                                              if v.error is None and v.image_id):
            self._announced = st.key
            self.shown.emit(st.key)

    def _paint_cell(self, p: QPainter, cell: QRect, v, n: int, total: int, top: Optional[float], font: QFont) -> None:
        img_rect = cell.adjusted(0, 0, 0, -CAPTION_H)
        p.fillRect(cell, QColor("#14181c"))
        loaded = self.cache.get(v.image_id) if v.error is None and v.image_id else None
        if loaded is not None and loaded.qimage is not None and not loaded.qimage.isNull():
            q = loaded.qimage
            scale = min(img_rect.width() / q.width(), img_rect.height() / q.height())
            w, h = q.width() * scale, q.height() * scale
            target = QRectF(img_rect.left() + (img_rect.width() - w) / 2, img_rect.top() + (img_rect.height() - h) / 2, w, h)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(target, q)
        else:
            p.setPen(QColor("#97a1ab"))
            text = v.error or (loaded.error if loaded is not None and loaded.error else "Loading…")
            p.drawText(img_rect.adjusted(10, 10, -10, -10), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
        highest = top is not None and v.error is None and (v.probability or 0.0) == top and v.flag
        if highest:
            p.setPen(QPen(theme.flag_colour(v.flag, v.probability), 3))
            p.drawRect(cell.adjusted(1, 1, -2, -2))
        cap = QRect(cell.left() + 8, cell.bottom() - CAPTION_H + 4, cell.width() - 16, CAPTION_H - 6)
        p.setFont(font)
        score = "—" if v.probability is None else f"{v.probability * 100:.0f}%"
        score = "score hidden" if self.blinded else score
        more = f"  (+{total - MAX_SHOWN} more: step in)" if n == MAX_SHOWN - 1 and total > MAX_SHOWN else ""
        first = f"View {n + 1} of {total} · {score}" + (f" · {theme.LABEL_TEXT[v.label]}" if v.label else " · undecided")
        p.setPen(QColor("#e6ebf0"))
        p.drawText(cap, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), first + more)
        p.setPen(QColor("#97a1ab"))
        second = " · ".join(x for x in (v.name, v.view, v.body_part) if x)
        elided = p.fontMetrics().elidedText(second, Qt.TextElideMode.ElideMiddle, cap.width())
        p.drawText(cap, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom), elided)

    def mousePressEvent(self, event) -> None:
        for rect, v in self._cells:
            if rect.contains(event.position().toPoint()) and v.error is None and v.image_id:
                self.view_clicked.emit(v.image_id)
                return
        super().mousePressEvent(event)
