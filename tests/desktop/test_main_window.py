"""The main window end to end (offscreen): scan a folder by signal, triage by key presses only,
check the store and the auto-advance order, filters and counts, errors, export from the dialog."""

from __future__ import annotations

import csv
import statistics

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.worklist import FILTERS
from tests.desktop.conftest import N_IMAGES, expected_order


def press(qtbot, w, key, modifier=Qt.KeyboardModifier.NoModifier):
    """A key press to the focused widget (shortcuts are window-wide), then wait for the queued action."""
    target = QApplication.focusWidget() or w.review.viewer
    qtbot.keyClick(target, key, modifier)
    qtbot.waitUntil(lambda: not w.session.busy, timeout=60000)


def current_name(w) -> str:
    item = w.session.current_item
    return item.name if item is not None else ""


def labels_by_name(w) -> dict[str, str]:
    store = w.session.store
    names = {it.image_id: it.name for it in w.session.worklist._items.values() if it.image_id}
    return {names[k]: d.label for k, d in store.current_labels().items() if k in names}


def test_scan_fills_the_worklist_sorted_by_probability(scanned):
    w = scanned
    model = w.worklist.model
    names = [model.item(r).name for r in range(model.rowCount())]
    assert names == expected_order()
    probs = [model.item(r).probability for r in range(model.rowCount())]
    assert probs == sorted(probs, reverse=True)
    assert w.session.worklist.counts()["to_review"] == N_IMAGES
    assert current_name(w) == expected_order()[0]  # the top of the list is shown
    assert "fracture probability" in w.review.header.label.text()
    assert "Errors 1" in w.worklist.tabs.tabText(FILTERS.index("errors"))
    assert w.windowTitle().startswith("Fracture Triage")


def test_triage_by_keys_only(scanned, qtbot):
    w = scanned
    order = expected_order()
    assert current_name(w) == order[0]
    press(qtbot, w, Qt.Key.Key_F)  # fracture, then advance
    assert current_name(w) == order[1]
    press(qtbot, w, Qt.Key.Key_N)
    assert current_name(w) == order[2]
    press(qtbot, w, Qt.Key.Key_D)
    assert current_name(w) == order[3]
    assert labels_by_name(w) == {order[0]: "fracture", order[1]: "no_fracture", order[2]: "doubt"}
    assert w.review.toast.isVisible() and "Doubt" in w.review.toast.text()

    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the doubt: back to that image
    assert current_name(w) == order[2]
    assert order[2] not in labels_by_name(w)
    press(qtbot, w, Qt.Key.Key_Backspace)  # undo again: the no_fracture
    assert order[1] not in labels_by_name(w)
    history = w.session.store.decision_history(w.session.current_item.image_id)
    assert [d.kind for d in history][-1] == "undo"  # undo is an event, not a delete

    # navigation: to-review list is now order[1:], current order[1]
    press(qtbot, w, Qt.Key.Key_J)
    assert current_name(w) == order[2]
    press(qtbot, w, Qt.Key.Key_Space)
    assert current_name(w) == order[3]
    press(qtbot, w, Qt.Key.Key_Down)
    assert current_name(w) == order[4]
    press(qtbot, w, Qt.Key.Key_K)
    assert current_name(w) == order[3]
    press(qtbot, w, Qt.Key.Key_Up)
    assert current_name(w) == order[2]

    # keys pressed faster than the writes run strictly in order
    target = QApplication.focusWidget() or w.review.viewer
    for key in (Qt.Key.Key_N, Qt.Key.Key_N, Qt.Key.Key_F):
        qtbot.keyClick(target, key)
    qtbot.waitUntil(lambda: not w.session.busy, timeout=60000)
    got = labels_by_name(w)
    assert got[order[2]] == "no_fracture" and got[order[3]] == "no_fracture" and got[order[4]] == "fracture"
    assert got[order[0]] == "fracture"
    reviewers = {d.reviewer for d in w.session.store.current_labels().values()}
    assert reviewers == {"QA"}


def test_decision_when_table_has_focus(scanned, qtbot):
    w = scanned
    w.worklist.table.setFocus()
    qtbot.waitUntil(lambda: w.worklist.table.hasFocus())
    first = current_name(w)
    press(qtbot, w, Qt.Key.Key_Down)  # our shortcut, not the table's own key handling
    assert current_name(w) != first
    press(qtbot, w, Qt.Key.Key_F)
    assert "fracture" in labels_by_name(w).values()


def test_filters_and_counts(scanned, qtbot):
    w = scanned
    order = expected_order()
    press(qtbot, w, Qt.Key.Key_F)  # top image (definite flag) → agrees
    press(qtbot, w, Qt.Key.Key_N)  # 2nd (flagged) → disagrees
    press(qtbot, w, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: w.session.worklist.counts()["decided"] == 3)
    counts = w.session.worklist.counts()
    assert counts["to_review"] == N_IMAGES - 3 and counts["doubt"] == 1 and counts["errors"] == 1
    assert counts["disagreements"] == 1
    qtbot.waitUntil(lambda: "Decided 3" in w.worklist.tabs.tabText(3))
    assert "To review 5" in w.worklist.tabs.tabText(0)

    w.worklist.tabs.setCurrentIndex(3)  # Decided
    assert w.session.worklist.filter == "decided"
    assert w.worklist.model.rowCount() == 3
    w.worklist.tabs.setCurrentIndex(5)  # Disagreements
    assert [w.worklist.model.item(r).name for r in range(w.worklist.model.rowCount())] == [order[1]]
    w.worklist.tabs.setCurrentIndex(2)  # All
    assert w.worklist.model.rowCount() == N_IMAGES + 1


def test_corrupt_file_appears_under_errors(scanned, qtbot):
    w = scanned
    w.worklist.tabs.setCurrentIndex(FILTERS.index("errors"))
    model = w.worklist.model
    assert model.rowCount() == 1
    item = model.item(0)
    assert item.name == "broken.jpg" and item.error
    assert not w.worklist.table.isColumnHidden(6)  # the Problem column shows the reason
    assert w.session.current_item.name == "broken.jpg"
    assert "could not be read" in w.review.viewer._message.text()
    press(qtbot, w, Qt.Key.Key_F)  # nothing to decide on an unreadable file: no crash, no decision
    assert w.session.store.current_labels() == {}


def test_export_from_the_dialog(scanned, qtbot, tmp_path):
    w = scanned
    press(qtbot, w, Qt.Key.Key_F)
    press(qtbot, w, Qt.Key.Key_N)
    qtbot.keyClick(w.review.viewer, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: getattr(w, "export_dialog", None) is not None and w.export_dialog.isVisible())
    dlg = w.export_dialog
    # the reviewer list arrives from a background read, not the GUI thread
    qtbot.waitUntil(lambda: dlg.reviewer.findText(w.session.reviewer) >= 0)
    out = tmp_path / "export-out"
    dlg.destination.setText(str(out))
    dlg.with_images.setChecked(True)
    with qtbot.waitSignal(dlg.finished_export, timeout=60000) as blocker:
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] is not None, dlg.result.text()
    rows = list(csv.DictReader((out / "labels.csv").open(encoding="utf-8")))
    assert sorted(r["label"] for r in rows) == ["fracture", "no_fracture"]
    assert (out / "fracture").is_dir() and "Exported 2" in dlg.result.text()
    dlg.close_button.click()


def test_table_model_passes_the_model_tester(make_window, image_folder, qtbot, qtmodeltester):
    w = make_window()
    qtmodeltester.check(w.worklist.model)  # empty
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(image_folder)
    qtmodeltester.check(w.worklist.model)
    press(qtbot, w, Qt.Key.Key_F)
    w.worklist.tabs.setCurrentIndex(2)
    qtmodeltester.check(w.worklist.model)
    with qtbot.waitSignal(w.worklist.model.sort_done, timeout=10000):  # worked out on the pool
        w.worklist.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # sorted by the core order
    qtmodeltester.check(w.worklist.model)


def test_key_to_image_latency_with_prefetch(scanned, qtbot):
    """Moving to the next image shows the prefetched image at once; decisions include the durable write."""
    w = scanned
    nav, dec = [], []
    for key, bucket in ((Qt.Key.Key_J, nav), (Qt.Key.Key_J, nav), (Qt.Key.Key_K, nav),
                        (Qt.Key.Key_F, dec), (Qt.Key.Key_N, dec), (Qt.Key.Key_D, dec)):
        # wait until the neighbours are decoded (prefetch), as when a reviewer looks at an image
        qtbot.waitUntil(lambda: w.tasks.pending == 0, timeout=30000)
        with qtbot.waitSignal(w.latency_measured, timeout=30000) as blocker:
            qtbot.keyClick(w.review.viewer, key)
        bucket.append(blocker.args[1])
    print(f"\nkey→image shown: navigation median {statistics.median(nav):.1f} ms {['%.1f' % x for x in nav]}, "
          f"decision (durable write + advance) median {statistics.median(dec):.1f} ms {['%.1f' % x for x in dec]}")
    assert len(nav) == 3 and len(dec) == 3 and all(x >= 0 for x in nav + dec)  # a figure, not a timed assert


def test_previously_scanned_folder_opens_from_the_database(make_window, image_folder, qtbot):
    w = make_window()
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(image_folder)
    w.close()
    w2 = make_window()
    with qtbot.waitSignal(w2.session.worklist_changed, timeout=30000):
        w2.open_folder(image_folder)
    assert w2.worklist.model.rowCount() == N_IMAGES  # straight from the database, before any rescan result
    with qtbot.waitSignal(w2.scan_done, timeout=60000) as blocker:
        pass
    assert blocker.args[0].reused == N_IMAGES


def test_no_model_installed(make_window, image_folder, qtbot):
    w = make_window(model=None)
    assert w.banner.isVisible() and "No fracture model is installed" in w.banner_text.text()
    assert "No model" in w.status.model.text()
    with qtbot.waitSignal(w.session.worklist_changed, timeout=30000):
        w.open_folder(image_folder)
    assert not w.session.scanning
    w.on_action("heatmap")
    assert "no heatmap" in w.review.toast.text().lower()


def test_shortcut_help_and_remap(scanned, qtbot):
    w = scanned
    qtbot.keyClick(w.review.viewer, Qt.Key.Key_Question)
    qtbot.waitUntil(w.help_overlay.isVisible)
    assert "Keyboard shortcuts" in w.help_overlay.card.findChildren(type(w.status.counts))[0].text()
    qtbot.keyClick(w.help_overlay, Qt.Key.Key_Escape)
    assert not w.help_overlay.isVisible()
    w.settings.shortcuts = {"fracture": ["X"]}
    w.apply_shortcuts()
    first = current_name(w)
    press(qtbot, w, Qt.Key.Key_F)  # F no longer decides
    assert labels_by_name(w) == {}
    press(qtbot, w, Qt.Key.Key_X)
    assert labels_by_name(w) == {first: "fracture"}


def test_viewer_tools_by_key(scanned, qtbot):
    w = scanned
    v = w.review.viewer
    fit_zoom = v.zoom
    qtbot.keyClick(v, Qt.Key.Key_Plus)
    assert v.zoom > fit_zoom
    qtbot.keyClick(v, Qt.Key.Key_I)
    assert v.inverted
    qtbot.keyClick(v, Qt.Key.Key_T)
    assert v.rotation == 90
    qtbot.keyClick(v, Qt.Key.Key_3)
    assert v.preset_name() == "High contrast"
    qtbot.keyClick(v, Qt.Key.Key_H)
    assert v.heatmap_visible and v.has_heatmap
    qtbot.keyClick(v, Qt.Key.Key_R)
    assert not v.inverted and v.rotation == 0 and v.window is None
    assert v.zoom == pytest.approx(fit_zoom)


def test_model_stays_consistent_while_a_scan_adds_rows(make_window, tmp_path, qtbot, qtlog):
    """A Qt model tester attached during the whole scan (incremental inserts) reports nothing."""
    from PySide6.QtTest import QAbstractItemModelTester

    from tests.desktop.conftest import make_image_folder

    folder = make_image_folder(tmp_path / "many", n=N_IMAGES)
    for i in range(3):  # a second level of the folder, more rows arriving in several batches
        make_image_folder(folder / f"sub{i}", n=N_IMAGES, corrupt=False)
        for p in (folder / f"sub{i}").iterdir():  # make the copies distinct images (distinct bytes)
            p.write_bytes(p.read_bytes() + bytes([i]))
    w = make_window()
    tester = QAbstractItemModelTester(w.worklist.model, QAbstractItemModelTester.FailureReportingMode.Warning)
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    w.worklist.tabs.setCurrentIndex(2)
    assert w.worklist.model.rowCount() == 4 * N_IMAGES + 1
    problems = [r.message for r in qtlog.records if "FAIL" in r.message or "ModelTester" in r.message]
    assert problems == []
    del tester


def test_recent_folders_drop_and_geometry_persist(make_window, image_folder, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    from core.settings import Settings

    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_folder))])
    drop = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.dropEvent(drop)
    assert w.settings.recent_folders[0] == str(image_folder.absolute())
    w.resize(1200, 700)
    qtbot.waitUntil(lambda: (w.width(), w.height()) == (1200, 700))
    w.close()
    saved = Settings.load(w.settings_path)
    assert saved.window_geometry and saved.recent_folders == [str(image_folder.absolute())]
    w2 = make_window(settings=saved)
    assert w2._restore_geometry()  # (the offscreen test screen is 800×600, so the size itself is clamped)
    w2._fill_recent()
    assert [a.text() for a in w2.recent_menu.actions()] == [str(image_folder.absolute())]


def test_first_results_fast_and_scan_cancel(make_window, tmp_path, qtbot, monkeypatch):
    import time

    from core.model.runtime import Model
    from tests.desktop.conftest import make_image_folder

    real_predict = Model.predict

    def slow_predict(self, *a, **k):  # on the scan's inference thread: keeps the scan running until cancelled
        time.sleep(0.05)
        return real_predict(self, *a, **k)

    monkeypatch.setattr(Model, "predict", slow_predict)

    folder = tmp_path / "many"
    for i in range(25):
        make_image_folder(folder / f"d{i:02d}", corrupt=False)
        for p in (folder / f"d{i:02d}").iterdir():
            p.write_bytes(p.read_bytes() + i.to_bytes(2, "little"))
    w = make_window()
    # after the first batch, inference waits for the cancel click: the scan cannot finish first
    import threading

    model, gate, calls = w.session.model, threading.Event(), []
    predict = model.predict

    def gated(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            gate.wait(60)
        return predict(*args, **kwargs)

    model.predict = gated
    t0 = time.perf_counter()
    w.open_folder(folder)
    qtbot.waitUntil(lambda: w.worklist.model.rowCount() > 0, timeout=60000)
    first = time.perf_counter() - t0
    print(f"\nfirst result in the table {first * 1000:.0f} ms after opening")
    assert w.session.scanning and w.status.cancel.isVisible()  # results are shown while the scan runs
    with qtbot.waitSignal(w.scan_done, timeout=60000) as blocker:
        qtbot.mouseClick(w.status.cancel, Qt.MouseButton.LeftButton)
        gate.set()
    summary = blocker.args[0]
    assert summary.cancelled and summary.files < 25 * N_IMAGES
    assert summary.items == []  # the folder's scan keeps no items: each went to the table as it came
    assert f"after {summary.files:,} files" in w.status.progress_label.text()
    assert w.worklist.model.rowCount() == summary.files - summary.duplicates


def test_the_panels_are_sized_as_the_first_folder_shows(scanned):
    """The worklist takes 42% of the window (480-760 px) from the first paint on (sized before the
    review page shows, so it is laid out and painted once)."""
    w = scanned
    total = max(w.splitter.width(), w.width())
    assert abs(w.splitter.sizes()[0] - min(max(480, int(total * 0.42)), 760)) <= 8


def test_navigation_and_advance_follow_a_user_sort(scanned, qtbot):
    w = scanned
    current = w.session.current_item.image_id
    with qtbot.waitSignal(w.worklist.model.sort_done, timeout=10000):  # worked out on the worker pool
        w.worklist.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by file name
        assert w.worklist.model.sort_pending and w.session.order.sort_column is None  # not installed yet
    assert not w.worklist.model.sort_pending
    assert w.session.current_item.image_id == current  # the current image stays current
    assert w.worklist.table.currentIndex().row() == w.worklist.model.row_of(current)
    names = sorted(expected_order())
    assert [i.name for i in w.worklist.shown_items()] == names
    assert w.session.order.sort_column == "name"  # the core order sorts; the table displays it
    w.session.select(w.worklist.shown_items()[0].image_id)  # as a mouse click on the first row
    assert current_name(w) == names[0]
    press(qtbot, w, Qt.Key.Key_J)
    assert current_name(w) == names[1]
    press(qtbot, w, Qt.Key.Key_F)  # decided: advance to the next to review in the table's order
    assert current_name(w) == names[2]
    press(qtbot, w, Qt.Key.Key_K)
    assert current_name(w) == names[0]
    w.worklist.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the header's third click: no column
    assert w.session.order.sort_column is None
    assert [i.name for i in w.worklist.shown_items()] == [n for n in expected_order() if n != names[1]]


def test_reader_notes_shown_in_the_worklist_and_the_info_line(make_window, tmp_path, qtbot):
    """A multi-page TIFF is scored on its first page: the worklist's Problem / note column and the
    viewer's info line say so (the scan CSV's `note` column carries the same text)."""
    import numpy as np
    from PIL import Image

    from desktop.worklist_model import COL_ERROR

    folder = tmp_path / "notes"
    folder.mkdir()
    def page(v):  # not blank (a blank image would be out of scope and not in the To review tab)
        return Image.fromarray(np.clip(np.random.default_rng(v).normal(v, 6, (96, 96)), 0, 255).astype(np.uint8))

    pages = [page(v) for v in (60, 120, 180)]
    pages[0].save(folder / "pages.tif", save_all=True, append_images=pages[1:])
    page(90).save(folder / "plain.png")
    w = make_window()
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    model = w.worklist.model
    rows = {model.item(r).name: r for r in range(model.rowCount())}
    assert model.index(rows["pages.tif"], COL_ERROR).data() == "first page of 3 (multi-page TIFF)"
    assert model.index(rows["plain.png"], COL_ERROR).data() == ""
    assert not w.worklist.table.isColumnHidden(COL_ERROR)
    w.worklist.table.selectRow(rows["pages.tif"])
    qtbot.waitUntil(lambda: "first page of 3" in w.review.info.left.text(), timeout=30000)


def test_a_file_changed_since_the_scan_is_scored_again_not_decided_under_its_old_id(scanned, qtbot):
    """Same path, new bytes: the viewer re-hashes what it decodes; on a mismatch no decision goes to
    the old image id, the file is scored again and its row replaced by the new image's."""
    import numpy as np
    from PIL import Image

    w = scanned
    s = w.session
    item = s.current_item
    old_id, path = item.image_id, item.path
    w.review.cache.clear()
    Image.fromarray(np.full((96, 96), 250, np.uint8)).save(path)  # another image under the same name
    with qtbot.waitSignal(s.rescored, timeout=60000) as blocker:
        s.select(old_id)
        w.review.show_item(s.current_item, [])  # the viewer decodes the file again
        qtbot.waitUntil(lambda: s.current_item is None or old_id in s._stale or blocker.signal_triggered,
                        timeout=30000)
        if old_id in s._stale:  # a key pressed meanwhile is refused, not recorded against the old id
            press(qtbot, w, Qt.Key.Key_F)
            assert s.store.current_labels().get(old_id) is None
    new_item = blocker.args[1]
    assert new_item.image_id != old_id and new_item.status == "scored" and new_item.probability is not None
    qtbot.waitUntil(lambda: s.current_item is not None and s.current_item.image_id == new_item.image_id,
                    timeout=30000)
    ids = {w.worklist.model.item(r).image_id for r in range(w.worklist.model.rowCount())}
    assert old_id not in ids
    assert s.store.current_labels().get(old_id) is None
    with qtbot.waitSignal(s.decision_saved, timeout=30000):
        press(qtbot, w, Qt.Key.Key_F)
    labels = s.store.current_labels()
    assert labels[new_item.image_id].label == "fracture" and old_id not in labels


def test_scan_progress_sets_the_bar_without_painting_the_window_at_once(make_window, qtbot):
    """The bar shows the figures, and setting them asks for an ordinary (coalesced) paint, not the
    immediate repaint QProgressBar.setValue makes — which repainted the window up to five times a second."""
    from PySide6.QtCore import QEvent, QObject

    w = make_window()
    w.status.scan_started()
    qtbot.waitUntil(lambda: w.status.progress.isVisible())
    paints = []

    class Count(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                paints.append(obj)
            return False

    counter = Count()
    w.status.progress.installEventFilter(counter)
    try:
        w.status.scan_progress(250, 1000, 40.0)
        assert paints == []  # nothing painted inside the call
        assert (w.status.progress.value(), w.status.progress.maximum()) == (250, 1000)
        assert "250 of 1,000" in w.status.progress_label.text()
        qtbot.waitUntil(lambda: len(paints) > 0, timeout=3000)  # the paint comes with the event loop
    finally:
        w.status.progress.removeEventFilter(counter)
