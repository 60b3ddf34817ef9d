"""desktop.after_paint: something waits for a widget's next paint, runs at once for a widget that is
not on screen, and never waits longer than its timeout."""

from PySide6.QtWidgets import QWidget

from desktop.after_paint import after_next_paint


class Painted(QWidget):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def paintEvent(self, event):  # noqa: N802 (Qt's name)
        self.log.append("paint")


def _shown(qtbot, log) -> Painted:
    w = Painted(log)
    qtbot.addWidget(w)
    with qtbot.waitExposed(w):
        w.show()
    return w


def test_a_hidden_widget_runs_it_at_once(qtbot):
    log = []
    w = Painted(log)
    qtbot.addWidget(w)
    after_next_paint(w, lambda: log.append("ran"))
    assert log == ["ran"]


def test_a_shown_widget_runs_it_after_its_next_paint_once(qtbot):
    log = []
    w = _shown(qtbot, log)
    qtbot.waitUntil(lambda: "paint" in log, timeout=5000)
    log.clear()
    after_next_paint(w, lambda: log.append("ran"), timeout_ms=60_000)
    assert log == []  # not before the paint
    qtbot.waitUntil(lambda: "ran" in log, timeout=5000)
    assert log.index("paint") < log.index("ran")
    w.update()
    qtbot.waitUntil(lambda: log.count("paint") >= 2, timeout=5000)
    qtbot.wait(20)
    assert log.count("ran") == 1


def test_a_widget_that_does_not_paint_runs_it_after_the_timeout(qtbot):
    log = []
    w = _shown(qtbot, log)
    w.setUpdatesEnabled(False)  # it will not paint again
    after_next_paint(w, lambda: log.append("ran"), timeout_ms=100)
    qtbot.waitUntil(lambda: "ran" in log, timeout=5000)
