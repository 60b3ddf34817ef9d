"""Several readers in the desktop app (offscreen, waiting on signals): the reader dialog (name, role,
mode, the clinic's double reading; remembered on this machine), blinded reading (no score, flag,
heatmap, model tab or column; random order; mode on each decision), two windows on one database
(claims make the second reader start on another image; live updates bring the first reader's
decision in without a reload) and the agreement page."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.reading import Reading
from core.settings import Settings
from core.worklist import FILTERS
from desktop.worklist_model import COL_FLAG, COL_PROB
from tests.desktop.conftest import expected_order


def press(qtbot, w, key):
    """A key press in window ``w`` (two windows are open: make it the active one first)."""
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=10000)
    target = QApplication.focusWidget()
    qtbot.keyClick(target if target is not None and w.isAncestorOf(target) else w.review.viewer, key)
    qtbot.waitUntil(lambda: not w.session.busy, timeout=60000)


def open_scanned(w, folder, qtbot):
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    qtbot.waitUntil(lambda: w.session.current_item is not None, timeout=30000)


def test_reader_dialog_sets_reader_role_mode_and_policy(make_window, qtbot, tmp_path):
    w = make_window(reviewer="")
    store = w.session.store
    store.set_reader("Dr K", "adjudicator")
    dlg = w.open_reader_dialog()
    qtbot.waitUntil(lambda: dlg.name.count() == 1, timeout=10000)  # known readers, read in the background
    dlg.name.setEditText("Dr K")
    assert dlg.adjudicator_role.isChecked() and "adjudicator" in dlg.note.text()
    dlg.name.setEditText("  Dr   B ")
    assert "new reader" in dlg.note.text()
    dlg.blinded.setChecked(True)
    dlg.double.setChecked(True)
    with qtbot.waitSignal(w.session.reading_changed, timeout=10000) as blocker:
        dlg.buttons.button(dlg.buttons.StandardButton.Ok).click()
    assert blocker.args[0] == Reading("Dr B", "reader", "blinded", True)
    assert store.double_reading() and ("Dr B", "reader") in store.readers()
    saved = Settings.load(w.settings_path)
    assert (saved.reviewer, saved.reading_mode) == ("Dr B", "blinded")  # remembered on this machine
    assert "Dr B · blinded · double reading" in w.status.reviewer.text()


def test_blinded_reading_hides_the_model(make_window, image_folder, qtbot):
    w = make_window(reviewer="Dr Blind", settings=Settings(reading_mode="blinded"))
    open_scanned(w, image_folder, qtbot)
    assert w.session.reading.blinded
    assert "Blinded reading" in w.review.header.label.text() and "%" not in w.review.header.label.text()
    table = w.worklist.table
    assert table.isColumnHidden(COL_PROB) and table.isColumnHidden(COL_FLAG)
    assert not w.worklist.tabs.isTabVisible(FILTERS.index("flagged"))
    assert not w.worklist.tabs.isTabVisible(FILTERS.index("disagreements"))
    assert not w.actions["heatmap"].isEnabled() and not w.opacity.isEnabled()
    w.on_action("heatmap")
    assert not w.review.viewer.heatmap_visible
    names = [it.name for it in w.worklist.shown_items()]
    assert sorted(names) == sorted(expected_order()) and names != expected_order()  # random, not by score
    first = w.session.current_item
    qtbot.waitUntil(lambda: w.session.triage.timing, timeout=20000)  # on screen: its time to decide runs
    press(qtbot, w, Qt.Key.Key_N)
    d = w.session.store.current_labels([first.image_id])[first.image_id]
    assert (d.reading_mode, d.reviewer) == ("blinded", "Dr Blind") and d.shown_ms is not None
    w.worklist.model.sort(COL_PROB, Qt.SortOrder.DescendingOrder)  # no order that would tell the score
    assert w.session.order.sort_column is None


def test_two_readers_get_different_images_and_see_each_others_decisions(make_window, image_folder, qtbot):
    a = make_window(reviewer="A")
    open_scanned(a, image_folder, qtbot)
    top = a.session.current_item
    assert top.name == expected_order()[0]
    qtbot.waitUntil(lambda: a.session.store.claimed_by_others("B", None) == {top.image_id}, timeout=10000)
    b = make_window(reviewer="B")
    store_b = b.session.store
    open_scanned(b, image_folder, qtbot)
    assert b.session.worklist.item(top.image_id).held
    assert b.session.current_item.name == expected_order()[1]  # A has the top image open: B starts below it
    assert store_b.claimed_by_others("A", None) == {b.session.current_item.image_id}
    b.session.poll_timer.setInterval(50)
    a.session.poll_timer.stop()  # A has not heard of B's claim yet: A's next image is B's...
    qtbot.waitUntil(lambda: not a.session.live._polling, timeout=10000)
    notes = []
    a.session.notice.connect(notes.append)
    with qtbot.waitSignal(a.session.claim_refused, timeout=10000) as refused:
        press(qtbot, a, Qt.Key.Key_F)  # A decides the top image and moves on
    assert refused.args[0] == b.session.current_item.image_id  # ...whose claim fails: A moves on past it
    qtbot.waitUntil(lambda: a.session.current_item.name == expected_order()[2], timeout=10000)
    assert a.session.worklist.item(b.session.current_item.image_id).held
    assert all("moved on" in n for n in notes)  # not picked by the reader: never kept on a held image

    def decided_at_b():
        it = b.session.worklist.item(top.image_id)
        return it.reading == "single" and it.settled  # (held a few seconds more: the hold after A's decision)

    with qtbot.waitSignal(b.session.others_updated, timeout=10000, check_params_cb=lambda n: decided_at_b()):
        pass
    assert top.image_id not in [it.image_id for it in b.worklist.shown_items()]  # left B's "to review" list
    it = b.session.worklist.item(top.image_id)
    assert it.label is None and it.reviewer is None  # ...without A's label being shown to B
    assert b.session.worklist.counts()["decided"] == 0
    a.close()  # closing releases A's claim on the image on A's screen; the decided one stays held briefly
    qtbot.waitUntil(lambda: store_b.claimed_by_others("B", None) <= {top.image_id}, timeout=10000)


def test_an_image_just_decided_is_not_opened_by_another_reader(make_window, image_folder, qtbot):
    """Reader A opens and decides an image between two of B's polls: B's list still shows it unread
    and free, but the hold after A's decision makes B's claim fail, so B moves on instead of
    reading it a second time."""
    from core.store.readers import DECIDED_HOLD_S
    from desktop.live import POLL_INTERVAL_MS

    assert DECIDED_HOLD_S > 2 * POLL_INTERVAL_MS / 1000  # outlasts a poll and its delay
    b = make_window(reviewer="B")
    open_scanned(b, image_folder, qtbot)
    b.session.poll_timer.stop()
    qtbot.waitUntil(lambda: not b.session.live._polling, timeout=10000)
    x = b.session.order[b.session.order.next(b.session.triage.current)]  # the image B goes to next
    store = b.session.store
    assert store.claim("A", x.image_id)  # A opens it and decides it quickly, as the app does
    store.record_decision(x.image_id, "A", "no_fracture")
    assert b.session.worklist.item(x.image_id).reading is None and not b.session.worklist.item(x.image_id).held
    with qtbot.waitSignal(b.session.claim_refused, timeout=10000) as refused:
        press(qtbot, b, Qt.Key.Key_Down)
    assert refused.args[0] == x.image_id
    qtbot.waitUntil(lambda: b.session.current_item.image_id != x.image_id, timeout=10000)  # moved on by itself
    assert [d.reviewer for d in store.decision_history(x.image_id)] == ["A"]


def test_double_reading_keeps_the_other_readers_label_hidden(make_window, image_folder, qtbot):
    a = make_window(reviewer="A")
    a.session.store.set_double_reading(True)
    open_scanned(a, image_folder, qtbot)
    top = a.session.current_item
    press(qtbot, a, Qt.Key.Key_F)
    b = make_window(reviewer="B")
    open_scanned(b, image_folder, qtbot)
    it = b.session.worklist.item(top.image_id)
    assert it.label is None and it.reviewer is None and it.reading == "single" and it.to_review
    assert b.session.current_item.image_id == top.image_id  # B reads it too (the second read)
    assert "A" not in b.review.info.left.text()
    press(qtbot, b, Qt.Key.Key_N)
    assert b.session.worklist.item(top.image_id).reading == "disputed"


def test_agreement_page(make_window, qtbot, tmp_path):
    from tests.core.store.helpers import fake_id, fill

    w = make_window(reviewer="A")
    store = w.session.store
    fill(store, tmp_path / "study", [0.5] * 6)
    for i, (la, lb) in enumerate([("fracture", "fracture"), ("fracture", "no_fracture"), ("no_fracture", "no_fracture"),
                                  ("no_fracture", "no_fracture"), ("fracture", "fracture"), ("doubt", "fracture")]):
        store.record_decision(fake_id(i), "A", la, reading_mode="aided", shown_ms=1000)
        store.record_decision(fake_id(i), "B", lb, reading_mode="blinded", shown_ms=3000)
    w.actions["agreement"].trigger()
    dlg = w.agreement_dialog
    with qtbot.waitSignal(dlg.report_ready, timeout=60000) as blocker:
        pass
    report = blocker.args[0]
    assert report.readers == ["A", "B"] and report.pairs["A | B"].n == 6
    text = dlg.page.toPlainText()
    assert "A | B" in text and "Fleiss' κ" in text and "Blinded (model hidden)" in text and "3.0 s" in text
    assert f"{report.pairs['A | B'].value:.2f}" in text
