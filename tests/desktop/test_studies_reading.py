"""The study mode with the other review features, by keys (offscreen, waiting on the session): redo of
a study decision decides every view again, find (Ctrl+F) opens a closed study onto the matching view,
the study keys are the same under the OHIF key profile (no clash), and blinded reading records its
mode on every view and hides the scores of the views side by side."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.settings import Settings
from desktop import shortcuts
from tests.desktop.test_main_window import press
from tests.desktop.test_studies import make_study_folder, rows

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def open_studies(make_window, tmp_path, qtbot, settings=None):
    w = make_window(settings=settings or Settings(worklist_by_study=True))
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(make_study_folder(tmp_path / "clinic"))
    qtbot.waitUntil(lambda: w.session.studies_shown and w.session.current_item is not None)
    return w


def test_redo_of_a_study_decision_decides_every_view_again(make_window, tmp_path, qtbot):
    w = open_studies(make_window, tmp_path, qtbot)
    first = w.session.current_item
    ids = [v.image_id for v in first.views]
    press(qtbot, w, Qt.Key.Key_D)
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.session.store.current_labels() == {} and w.session.current_item.key == first.key
    press(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    labels = w.session.store.current_labels()
    assert {labels[i].label for i in ids} == {"doubt"} and all(labels[i].is_redo for i in ids)
    assert {labels[i].unit for i in ids} == {"study"} and len({labels[i].batch for i in ids}) == 1
    assert "Redone" in w.review.grid_toast.text() and "3 views" in w.review.grid_toast.text()
    assert first.key not in [it.key for it in rows(w) if it.is_study]  # decided: not "to review"
    press(qtbot, w, Qt.Key.Key_Z, CTRL)  # and undone again as one step
    assert w.session.store.current_labels() == {}


def test_find_opens_the_study_onto_the_matching_view(make_window, tmp_path, qtbot):
    w = open_studies(make_window, tmp_path, qtbot)
    assert w.session.open_study is None
    press(qtbot, w, Qt.Key.Key_F, CTRL)
    qtbot.keyClicks(QApplication.focusWidget(), "patient_b/view_1")  # a path: the one file of that folder
    cur = w.session.current_item
    assert cur is not None and not cur.is_study and cur.path.parent.name == "patient_b" and cur.name == "view_1.png"
    assert w.session.open_study is not None and w.session.open_study.key == cur.study
    assert w.find_bar.status.text() == "1 of 1"
    assert w.worklist.model.item(w.worklist.table.currentIndex().row()).image_id == cur.image_id
    qtbot.keyClick(w.find_bar.edit, Qt.Key.Key_Escape)
    press(qtbot, w, Qt.Key.Key_N)  # stepped in by find: the key decides that view only
    labels = w.session.store.current_labels()
    assert list(labels) == [cur.image_id] and labels[cur.image_id].unit == "view"


def test_study_keys_are_the_same_under_the_ohif_profile(make_window, tmp_path, qtbot):
    ohif = shortcuts.profile_keys("ohif")
    assert shortcuts.conflicts(ohif) == {}
    assert (ohif["study_mode"], ohif["step_in"], ohif["step_out"]) == (["G"], ["Return", "Right"], ["Left"])
    w = open_studies(make_window, tmp_path, qtbot, Settings(key_profile="ohif", worklist_by_study=True))
    study = w.session.current_item
    press(qtbot, w, Qt.Key.Key_Return)
    assert w.session.current_item.image_id == study.views[0].image_id
    press(qtbot, w, Qt.Key.Key_Space)  # OHIF: Space resets the view, it does not move on
    assert w.session.current_item.image_id == study.views[0].image_id
    press(qtbot, w, Qt.Key.Key_Left)
    assert w.session.current_item.key == study.key
    with qtbot.waitSignal(w.session.study_mode_changed):
        press(qtbot, w, Qt.Key.Key_G)
    assert not w.session.studies_shown


def test_blinded_study_decision_records_the_mode_and_hides_scores(make_window, tmp_path, qtbot):
    w = open_studies(make_window, tmp_path, qtbot, Settings(worklist_by_study=True, reading_mode="blinded"))
    qtbot.waitUntil(lambda: w.session.reading.blinded)
    study = w.session.current_item
    assert w.review.grid.blinded and "Blinded reading" in w.review.header.label.text()
    qtbot.waitUntil(lambda: all(w.review.cache.get(v.image_id) is not None for v in study.views), timeout=20000)
    w.review.grid.repaint()
    assert len(w.review.grid.cells()) == len(study.views)
    qtbot.waitUntil(lambda: w.session.triage.timing, timeout=20000)  # its views on screen: the time runs
    press(qtbot, w, Qt.Key.Key_F)
    labels = w.session.store.current_labels()
    assert {labels[v.image_id].reading_mode for v in study.views} == {"blinded"}
    assert {labels[v.image_id].reviewer for v in study.views} == {"QA"}
    assert all(labels[v.image_id].shown_ms is not None for v in study.views)
