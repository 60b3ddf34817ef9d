"""A table repaint beside a busy Python thread (issue 12 §5, "no GUI stall"): why the worklist's
Probability column is a pixmap decoration and not a Python delegate (a script, not a test).

Three 10,000-row, 6-column tables, offscreen, each model answering a cell in one ``multiData`` call:
``plain`` (text only), ``python delegate`` (the Probability column painted by a Python
``QStyledItemDelegate.paint``, as the worklist did until commit db2c466: a number and a rounded bar,
a few dozen calls back into Qt per row) and ``pixmap`` (the bar from ``desktop.worklist_model.bar_for``
as the cell's decoration, painted by Qt's own delegate, as now). Each viewport is repainted 15 times,
the median printed, first alone, then with one thread spinning in Python beside it, as the scan's
thread does while a folder is listed. Each call from Qt into Python waits for the GIL while the other
thread holds it; the ratios against ``plain`` in the same run are the figures to compare.

    .venv/bin/python tests/benchmarks/bench_table_paint.py
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QAbstractTableModel, QRect, Qt  # noqa: E402
from PySide6.QtGui import QColor, QPainter, QPen  # noqa: E402
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView  # noqa: E402

ROWS, COLS, PROB = 10_000, 6, 1
ITEM = SimpleNamespace(probability=0.42, flag="suspicious")


class OldProbabilityDelegate(QStyledItemDelegate):
    """The baseline: the Probability delegate as it was (number and bar painted from Python)."""

    def paint(self, painter, option, index) -> None:  # noqa: ANN001
        from desktop import theme

        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        it = ITEM
        r = option.rect.adjusted(6, 0, -6, 0)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(option.palette.text().color()))
        painter.drawText(QRect(r.left(), r.top(), 40, r.height()), int(Qt.AlignmentFlag.AlignRight), text)
        track = QRect(r.left() + 48, r.center().y() - 4, max(10, r.width() - 48), 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#2a3138"))
        painter.drawRoundedRect(track, 3, 3)
        fill = QRect(track.left(), track.top(), max(2, int(track.width() * it.probability)), track.height())
        painter.setBrush(theme.flag_colour(it.flag, it.probability))
        painter.drawRoundedRect(fill, 3, 3)
        painter.restore()


class Model(QAbstractTableModel):
    def __init__(self, bars: bool) -> None:
        super().__init__()
        self.bars = bars

    def rowCount(self, parent=None) -> int:  # noqa: ANN001, N802
        return ROWS

    def columnCount(self, parent=None) -> int:  # noqa: ANN001, N802
        return COLS

    def data(self, index, role=0):  # noqa: ANN001
        return "42%" if role == 0 else None

    def multiData(self, index, span) -> None:  # noqa: ANN001, N802
        from desktop.worklist_model import bar_for

        for rd in span:
            role = rd.role()
            if role == 0:
                rd.setData("42%" if index.column() == PROB else f"{index.row()}:{index.column()}")
            elif role == 1 and self.bars and index.column() == PROB:
                rd.setData(bar_for(ITEM, 1.0))
            else:
                rd.clearData()


def median_repaint_ms(view: QTableView, n: int = 15) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        view.viewport().repaint()
        times.append(time.perf_counter() - t)
    return 1000 * sorted(times)[n // 2]


def main() -> None:
    app = QApplication.instance() or QApplication([])
    views = {}
    for name in ("plain", "python delegate", "pixmap"):
        v = QTableView()
        v.setModel(Model(bars=name == "pixmap"))
        if name == "python delegate":
            v.setItemDelegateForColumn(PROB, OldProbabilityDelegate(v))
        v.resize(1000, 700)
        v.show()
        views[name] = v
    for _ in range(10):
        app.processEvents()
    alone = {name: median_repaint_ms(v) for name, v in views.items()}
    stop = threading.Event()

    def spin() -> None:
        x = 0
        while not stop.is_set():
            x += 1

    th = threading.Thread(target=spin, daemon=True)
    th.start()
    time.sleep(0.1)
    busy = {name: median_repaint_ms(v) for name, v in views.items()}
    stop.set()
    th.join()
    print(f"{os.cpu_count()} CPU cores; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'table':<17}{'alone (ms)':>12}{'busy thread (ms)':>18}{'busy / plain':>14}")
    for name in views:
        print(f"{name:<17}{alone[name]:>12.1f}{busy[name]:>18.1f}{busy[name] / busy['plain']:>13.1f}x")


if __name__ == "__main__":
    main()
