"""Run something once a widget has painted: a re-opened folder's pool work and re-scan wait for the
listed rows to be on screen, and the viewer's decoding of a new row's image for its "Loading…".

Re-opening a scanned folder lists its rows, then re-scans it. Work started together with the listing
(the viewer's decoding, the thumbnails, the re-scan's thread) ran Python beside the rows' first
paint, and the paint's calls into the model waited for the GIL: the turn that listed and painted
10,000 rows stalled the GUI thread for 46–97 ms (``tests/benchmarks/bench_large.py``, "stall while
listing"). ``after_next_paint`` runs the next step right after that paint. A widget that is not on
screen (hidden, or a test without a shown window) runs it at once. A widget that does not paint within
``timeout_ms`` runs it then.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

TIMEOUT_MS = 250  # a shown widget paints within a frame or two; a covered or minimised one may never


class _PaintWaiter(QObject):
    """Watches its parent widget for its next Paint event, then calls ``fn`` once (from the event loop).
    It reaches the widget through ``parent()`` only: a reference of its own would let its deferred
    deletion drop the last Python reference to a widget Python owns, destroying the parent midway
    through deleting this child (seen as a crash in the tests)."""

    def __init__(self, widget: QWidget, fn: Callable[[], None], timeout_ms: int) -> None:
        super().__init__(widget)
        self._fn: Callable[[], None] | None = fn
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)
        self._timer.start(timeout_ms)
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:  # installed on the parent only
            self._timer.start(0)  # the same timer, due now: fires after this paint (and the window's) is done
        return False

    def _fire(self) -> None:
        fn, self._fn = self._fn, None
        if fn is None:
            return
        self._timer.stop()
        self.parent().removeEventFilter(self)
        self.deleteLater()
        fn()


def after_next_paint(widget: QWidget, fn: Callable[[], None], timeout_ms: int = TIMEOUT_MS) -> None:
    """Call ``fn()`` on the GUI thread once ``widget`` has next painted (at once if it is not visible;
    after ``timeout_ms`` at the latest)."""
    if not widget.isVisible():
        fn()
        return
    widget.update()  # a paint is due anyway (new rows); make sure one is
    _PaintWaiter(widget, fn, timeout_ms)
