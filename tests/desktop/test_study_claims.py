"""Whole-study claims in the study mode (offscreen, waiting on signals): a study row claims every view
still to decide, whole — stepping into it keeps them, deciding one view lets only that one go (after
the short hold) — so a second reader starts on another study, or, in the image list, on an image of
another study; a study with one view open elsewhere is not taken and the reader moves on to the next."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.settings import Settings
from tests.desktop.test_readers import open_scanned, press
from tests.desktop.test_studies import make_study_folder

BY_STUDY = Settings(worklist_by_study=True)


def views_of(item) -> set:
    return {v.image_id for v in item.views}


def test_a_study_row_claims_all_its_views_so_another_reader_gets_none_of_them(make_window, tmp_path, qtbot):
    folder = make_study_folder(tmp_path / "clinic")
    a = make_window(reviewer="A", settings=BY_STUDY)
    open_scanned(a, folder, qtbot)
    qtbot.waitUntil(lambda: a.session.studies_shown and a.session.current_item.is_study, timeout=10000)
    top = a.session.current_item
    store = a.session.store
    assert len(top.views) == 3
    qtbot.waitUntil(lambda: store.claimed_by_others("B", None) == views_of(top), timeout=10000)

    b = make_window(reviewer="B", settings=BY_STUDY)
    open_scanned(b, folder, qtbot)
    qtbot.waitUntil(lambda: b.session.studies_shown and b.session.current_item.is_study, timeout=10000)
    second = b.session.current_item
    assert second.key != top.key and b.session.order.item(top.row_key).held  # A's study is skipped whole
    qtbot.waitUntil(lambda: store.claimed_by_others("A", None) == views_of(second), timeout=10000)

    c = make_window(reviewer="C")  # the image list: C's first image is in neither study
    open_scanned(c, folder, qtbot)
    qtbot.waitUntil(lambda: c.session.current_item.image_id not in views_of(top) | views_of(second), timeout=10000)
    c.close()  # (C's claim on the third study's one view goes with C)
    qtbot.waitUntil(lambda: store.claimed_by_others("A", None) == views_of(second), timeout=10000)

    press(qtbot, a, Qt.Key.Key_Return)  # A steps into the study: its views stay A's
    assert not a.session.current_item.is_study and a.session.open_study.key == top.key
    assert store.claimed_by_others("B", None) >= views_of(top)
    viewed = a.session.current_item.image_id
    press(qtbot, a, Qt.Key.Key_N)  # one view decided: the others stay claimed, that one only in its short hold
    qtbot.waitUntil(lambda: not a.session.busy, timeout=10000)
    assert store.current_labels([viewed], reader="A")[viewed].unit == "view"
    assert store.claimed_by_others("B", None) >= views_of(top)
    press(qtbot, a, Qt.Key.Key_Left)  # back to the study row, closed: still all of its views
    assert a.session.current_item.is_study and a.session.current_item.key == top.key
    assert store.claimed_by_others("B", None) >= views_of(top)
    qtbot.waitUntil(lambda: not a.session.live._polling, timeout=10000)
    with qtbot.waitSignal(a.session.others_updated, timeout=10000):
        a.session.poll_now()  # A has heard that C let go of the third study's view
    press(qtbot, a, Qt.Key.Key_F)  # the study decided as a whole: A moves on to a study nobody holds
    assert set(store.current_labels(views_of(top), reader="A")) == views_of(top)
    third = next(st for st in a.session.order.listed_studies() if st.key not in (top.key, second.key))
    qtbot.waitUntil(lambda: a.session.current_item.key == third.key, timeout=10000)  # B's study passed over
    qtbot.waitUntil(lambda: store.claimed_by_others("B", None) >= views_of(third), timeout=10000)
    for w in (a, b):
        w.close()
    qtbot.waitUntil(lambda: store.claimed_by_others("nobody", None) <= views_of(top), timeout=10000)


def test_a_study_with_a_view_open_elsewhere_is_passed_over(make_window, tmp_path, qtbot):
    folder = make_study_folder(tmp_path / "clinic")
    b = make_window(reviewer="B", settings=BY_STUDY)
    open_scanned(b, folder, qtbot)
    qtbot.waitUntil(lambda: b.session.studies_shown and b.session.current_item.is_study, timeout=10000)
    b.session.poll_timer.stop()  # B does not hear of the other reader's claim before coming to the study
    qtbot.waitUntil(lambda: not b.session.live._polling, timeout=10000)
    order = b.session.order
    nxt = order[order.next(b.session.triage.current)]
    assert nxt.is_study and len(nxt.views) >= 2
    store = b.session.store
    one = sorted(views_of(nxt))[0]
    assert store.claim("X", one)  # reader X has one view of that study open (in the image list)
    notes = []
    b.session.notice.connect(notes.append)
    with qtbot.waitSignal(b.session.claim_refused, timeout=10000) as refused:
        press(qtbot, b, Qt.Key.Key_Down)
    assert refused.args[0] == nxt.row_key
    qtbot.waitUntil(lambda: b.session.current_item.key != nxt.key, timeout=10000)  # moved on by itself
    assert any("moved on to the next study" in n for n in notes)
    assert store.claimed_by_others("X", None).isdisjoint(views_of(nxt))  # none of its views taken by B
    assert b.session.order.item(nxt.row_key).held
