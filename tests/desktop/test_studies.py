"""The study mode end to end (offscreen, signals not sleeps): G lists studies sorted by study score
with study and image counts, a study's views side by side, F/N/D on a study decide every view (said in
the header), Enter steps into the views where F/N/D decide one view, ← steps out, undo of a study
decision, the table model consistent throughout (qtmodeltester)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from core.worklist import FILTERS
from tests.desktop.test_main_window import press

# folder -> mean grey levels of its views (brighter: higher test-model probability)
STUDIES = {"patient_a": [200, 60, 50], "patient_b": [150, 140], "patient_c": [100]}


def make_study_folder(root: Path) -> Path:
    rng = np.random.default_rng(3)
    for folder, levels in STUDIES.items():
        (root / folder).mkdir(parents=True)
        for i, level in enumerate(levels):
            a = np.clip(rng.normal(level, 6, (96, 96)), 0, 255).astype(np.uint8)
            Image.fromarray(a).save(root / folder / f"view_{i}.png")
    return root


@pytest.fixture
def studies_window(make_window, tmp_path, qtbot):
    w = make_window()
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(make_study_folder(tmp_path / "clinic"))
    qtbot.waitUntil(lambda: w.session.current_item is not None)
    with qtbot.waitSignal(w.session.study_mode_changed, timeout=10000):
        press(qtbot, w, Qt.Key.Key_G)
    qtbot.waitUntil(lambda: w.session.studies_shown)
    return w


def tab(w, name: str) -> str:
    return w.worklist.tabs.tabText(FILTERS.index(name))


def rows(w) -> list:
    m = w.worklist.model
    return [m.item(r) for r in range(m.rowCount())]


def by_folder(w) -> dict[str, str]:
    """study key -> folder name, from the views' paths (the table never shows the folder)."""
    return {it.key: it.views[0].path.parent.name for it in rows(w) if it.is_study}


def test_g_lists_studies_by_study_score_with_counts(studies_window, qtbot):
    w = studies_window
    shown = rows(w)
    assert all(it.is_study for it in shown) and len(shown) == 3
    folders = by_folder(w)
    assert [folders[it.key] for it in shown] == ["patient_a", "patient_b", "patient_c"]  # max score order
    assert [len(it.views) for it in shown] == [3, 2, 1]
    text = w.worklist.model.data(w.worklist.model.index(0, 0))
    assert text == f"▸ {shown[0].key} · 3 views" and "patient" not in text
    assert w.worklist.model.headerData(0, Qt.Orientation.Horizontal) == "Study / file"
    tab = w.worklist.tabs.tabText(FILTERS.index("to_review"))
    assert tab == "To review 3 (6)"
    assert w.worklist.caption.isVisible() and "studies (images)" in w.worklist.caption.text()
    from desktop.worklist_model import FileDelegate

    assert isinstance(w.worklist.table.itemDelegateForColumn(0), FileDelegate)  # study keys elided at their end
    assert w.session.current_item is shown[0]
    assert w.review.showing_study and len(w.review.grid.study.views) == 3
    qtbot.waitUntil(lambda: all(w.review.cache.get(v.image_id) is not None for v in shown[0].views), timeout=20000)
    w.review.grid.repaint()
    assert len(w.review.grid.cells()) == 3
    assert "all 3 views of the study" in w.review.header.decision.text()
    assert w.actions["study_mode"].isChecked() and w.settings.worklist_by_study


def test_a_study_decision_records_every_view_then_undo(studies_window, qtbot):
    w = studies_window
    first = w.session.current_item
    press(qtbot, w, Qt.Key.Key_F)
    labels = w.session.store.current_labels()
    assert {labels[v.image_id].label for v in first.views} == {"fracture"}
    assert {labels[v.image_id].unit for v in first.views} == {"study"}
    assert {labels[v.image_id].study for v in first.views} == {first.key}
    assert {labels[v.image_id].reviewer for v in first.views} == {"QA"}
    assert "recorded for the study" in w.review.grid_toast.text() and "all 3 views" in w.review.grid_toast.text()
    assert w.session.current_item.is_study and w.session.current_item.key != first.key
    qtbot.waitUntil(lambda: tab(w, "to_review") == "To review 2 (3)")  # counts follow on a short timer
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.session.store.current_labels() == {}
    assert w.session.current_item.key == first.key
    qtbot.waitUntil(lambda: tab(w, "to_review") == "To review 3 (6)")


def test_stepping_in_decides_one_view_and_says_so(studies_window, qtbot):
    w = studies_window
    study = w.session.current_item
    press(qtbot, w, Qt.Key.Key_Return)
    cur = w.session.current_item
    assert not cur.is_study and cur.image_id == study.views[0].image_id
    assert [it.is_study for it in rows(w)][:4] == [True, False, False, False]  # the views under their study
    assert w.worklist.model.data(w.worklist.model.index(1, 0)).startswith("      view_")
    assert not w.review.showing_study
    assert "decide this view only" in w.review.header.decision.text()
    assert "View 1 of 3" in w.review.header.decision.text()
    press(qtbot, w, Qt.Key.Key_N)
    labels = w.session.store.current_labels()
    assert list(labels) == [study.views[0].image_id] and labels[study.views[0].image_id].unit == "view"
    assert w.session.current_item.image_id == study.views[1].image_id  # the next view of the same study
    press(qtbot, w, Qt.Key.Key_Left)
    assert w.session.current_item.is_study and w.session.current_item.key == study.key
    assert len(rows(w)) == 3
    assert w.worklist.model.data(w.worklist.model.index(0, 3)) == "1 of 3"  # Decision column: partly decided


def test_clicking_a_view_side_by_side_steps_into_it(studies_window, qtbot):
    w = studies_window
    study = w.session.current_item
    qtbot.waitUntil(lambda: all(w.review.cache.get(v.image_id) is not None for v in study.views), timeout=20000)
    w.review.grid.repaint()
    rect, view = w.review.grid.cells()[2]
    qtbot.mouseClick(w.review.grid, Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not w.session.busy)
    assert w.session.current_item.image_id == view.image_id == study.views[2].image_id


def test_g_again_lists_images_on_the_same_image(studies_window, qtbot):
    w = studies_window
    press(qtbot, w, Qt.Key.Key_Return)
    press(qtbot, w, Qt.Key.Key_Down)
    image = w.session.current_item.image_id
    press(qtbot, w, Qt.Key.Key_G)
    assert not w.session.studies_shown and not any(it.is_study for it in rows(w))
    assert w.session.current_item.image_id == image
    qtbot.waitUntil(lambda: tab(w, "to_review") == "To review 6")
    assert not w.worklist.caption.isVisible()
    assert w.worklist.model.headerData(0, Qt.Orientation.Horizontal) == "File"


def test_study_mode_table_model_is_consistent(studies_window, qtbot, qtmodeltester):
    w = studies_window
    qtmodeltester.check(w.worklist.model)
    press(qtbot, w, Qt.Key.Key_Return)
    qtmodeltester.check(w.worklist.model)
    press(qtbot, w, Qt.Key.Key_F)
    press(qtbot, w, Qt.Key.Key_Left)
    qtmodeltester.check(w.worklist.model)
    w.worklist.tabs.setCurrentIndex(FILTERS.index("all"))
    qtbot.waitUntil(lambda: w.session.order.filter == "all")
    assert len(rows(w)) == 3
    qtbot.waitUntil(lambda: tab(w, "all") == "All 3 (6)")
    qtmodeltester.check(w.worklist.model)


def test_the_whole_study_key_is_readable_in_a_narrow_table(studies_window, qtbot):
    """At 1366×768 the Study / file column is narrow: a study row is elided at its end (the view count
    goes first), a file name in the middle (its start and extension stay)."""
    from PySide6.QtWidgets import QStyleOptionViewItem

    from desktop.worklist_model import COL_FILE

    w = studies_window
    w.resize(1366, 768)
    qtbot.waitUntil(lambda: w.worklist.table.columnWidth(COL_FILE) > 0)
    table, model = w.worklist.table, w.worklist.model
    delegate = table.itemDelegateForColumn(COL_FILE)

    def shown_text(row: int) -> tuple:
        opt = QStyleOptionViewItem()
        index = model.index(row, COL_FILE)
        delegate.initStyleOption(opt, index)
        room = table.columnWidth(COL_FILE) - opt.decorationSize.width() - 16
        return opt.textElideMode, opt.fontMetrics.elidedText(opt.text, opt.textElideMode, room)

    study = rows(w)[0]
    mode, text = shown_text(0)
    assert mode == Qt.TextElideMode.ElideRight and study.key in text
    press(qtbot, w, Qt.Key.Key_Return)  # step in: the views are listed under the study
    qtbot.waitUntil(lambda: model.rowCount() > 3)
    assert shown_text(1)[0] == Qt.TextElideMode.ElideMiddle


def test_leaving_the_study_mode_drops_the_study_rows_delegate(studies_window, qtbot):
    from desktop.worklist_model import FileDelegate

    w = studies_window
    assert isinstance(w.worklist.table.itemDelegateForColumn(0), FileDelegate)
    w.actions["study_mode"].trigger()
    qtbot.waitUntil(lambda: not w.session.studies_shown)
    assert w.worklist.table.itemDelegateForColumn(0) is None
    w.actions["study_mode"].trigger()
    qtbot.waitUntil(lambda: w.session.studies_shown)
    assert isinstance(w.worklist.table.itemDelegateForColumn(0), FileDelegate)
