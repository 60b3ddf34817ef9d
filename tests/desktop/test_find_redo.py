"""Find by file name (Ctrl+F) and redo (Ctrl+Shift+Z / Ctrl+Y) in the main window, by keys only:
the find bar jumps to the matching row, typed letters never decide, Enter steps through the matches,
a match hidden by the filter is offered under All; redo after undo is an event, also after a restart."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.desktop.conftest import expected_order
from tests.desktop.test_main_window import current_name, labels_by_name, press

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def type_text(qtbot, text: str) -> None:
    qtbot.keyClicks(QApplication.focusWidget(), text)


def test_find_jumps_to_the_file_and_letters_do_not_decide(scanned, qtbot):
    w = scanned
    order = expected_order()
    target = order[5]  # e.g. "xray_02.png": far down the list
    press(qtbot, w, Qt.Key.Key_F, CTRL)
    assert w.find_bar.isVisible() and QApplication.focusWidget() is w.find_bar.edit
    type_text(qtbot, target.upper())  # 'F', 'N', 'D' … typed here are text, not decisions
    assert current_name(w) == target
    assert w.worklist.model.item(w.worklist.table.currentIndex().row()).name == target  # the table follows
    assert w.find_bar.status.text() == "1 of 1"
    assert labels_by_name(w) == {}
    qtbot.waitUntil(lambda: w.review.viewer.image is not None and w.review.viewer.image.path.name == target)

    w.find_bar.edit.clear()
    type_text(qtbot, "xray")  # every image matches: the first at or after the current row
    assert current_name(w) == target and w.find_bar.status.text() == f"6 of {len(order)}"
    qtbot.keyClick(w.find_bar.edit, Qt.Key.Key_Return)  # next match
    assert current_name(w) == order[6]
    qtbot.keyClick(w.find_bar.edit, Qt.Key.Key_Return, SHIFT)  # previous
    qtbot.keyClick(w.find_bar.edit, Qt.Key.Key_Return, SHIFT)
    assert current_name(w) == order[4]
    w.find_bar.edit.clear()
    type_text(qtbot, "elbow")
    assert w.find_bar.status.text() == "No file name matches" and current_name(w) == order[4]

    qtbot.keyClick(w.find_bar.edit, Qt.Key.Key_Escape)  # closes; the keys are the viewer's again
    assert not w.find_bar.isVisible() and QApplication.focusWidget() is w.review.viewer
    press(qtbot, w, Qt.Key.Key_F)  # now F decides
    assert labels_by_name(w) == {order[4]: "fracture"}


def test_find_offers_a_match_the_filter_hides(scanned, qtbot):
    w = scanned
    order = expected_order()
    press(qtbot, w, Qt.Key.Key_N)  # order[0] decided: it leaves "To review"
    press(qtbot, w, Qt.Key.Key_F, CTRL)
    type_text(qtbot, order[0])
    assert w.find_bar.status.text().startswith("Not in To review") and current_name(w) == order[1]
    qtbot.keyClick(w.find_bar.edit, Qt.Key.Key_Return)  # shows it under All
    assert w.session.worklist.filter == "all" and w.worklist.current_filter() == "all"
    assert current_name(w) == order[0] and w.find_bar.status.text() == "1 of 1"


def test_redo_after_undo_by_both_keys(scanned, qtbot):
    w = scanned
    order = expected_order()
    press(qtbot, w, Qt.Key.Key_F)
    press(qtbot, w, Qt.Key.Key_N)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert labels_by_name(w) == {} and current_name(w) == order[0]
    press(qtbot, w, Qt.Key.Key_J)
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)  # redo: decided again, it leaves "To review"
    assert labels_by_name(w) == {order[0]: "fracture"} and current_name(w) == order[1]
    assert "Redone" in w.review.toast.text() and "Fracture" in w.review.toast.text()
    press(qtbot, w, Qt.Key.Key_Y, CTRL)
    assert labels_by_name(w) == {order[0]: "fracture", order[1]: "no_fracture"}
    image_id = next(it.image_id for it in w.session.worklist.all_items() if it.name == order[1])
    history = w.session.store.decision_history(image_id)
    assert [d.kind for d in history] == ["decide", "undo", "decide"] and history[-1].is_redo
    notices = []
    w.session.notice.connect(notices.append)
    press(qtbot, w, Qt.Key.Key_Y, CTRL)
    assert notices == ["Nothing to redo."]


def test_redo_survives_a_restart(make_window, image_folder, qtbot):
    order = expected_order()
    w = make_window()
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(image_folder)
    press(qtbot, w, Qt.Key.Key_D)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert labels_by_name(w) == {}
    w.close()
    w2 = make_window()  # the same database, a new app
    with qtbot.waitSignal(w2.scan_done, timeout=60000):
        w2.open_folder(image_folder)
    press(qtbot, w2, Qt.Key.Key_Y, CTRL)
    assert labels_by_name(w2) == {order[0]: "doubt"}
