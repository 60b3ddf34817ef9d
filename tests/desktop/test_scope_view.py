"""Out-of-scope images in the app: own tab with count, reason in the table and the viewer, no flag,
listed after the in-scope images; S marks one "in scope after all" (recorded) and S again withdraws it."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.worklist import FILTERS
from desktop.worklist_model import COL_ERROR, COL_FLAG
from tests.desktop.conftest import make_image_folder

OUT_TAB = FILTERS.index("out_of_scope")
ALL_TAB = FILTERS.index("all")


def test_out_of_scope_tab_reason_and_mark(make_window, tmp_path, qtbot):
    folder = make_image_folder(tmp_path / "xr", n=3, corrupt=False)
    y, x = np.mgrid[0:200, 0:240]
    photo = np.stack([x, y, np.full_like(x, 250)], -1).astype(np.uint8)  # bright: highest probability
    Image.fromarray(photo).save(folder / "photo.png")
    w = make_window()
    with qtbot.waitSignal(w.scan_done, timeout=30000):
        w.open_folder(folder)
    tabs = w.worklist.tabs
    assert tabs.tabText(OUT_TAB).startswith("Out of scope") and tabs.tabText(OUT_TAB).endswith(" 1")
    tabs.setCurrentIndex(ALL_TAB)  # All: the photo comes after every in-scope image although it scores highest
    model = w.worklist.model
    names = [model.item(r).name for r in range(model.rowCount())]
    assert names[-1] == "photo.png"
    row = names.index("photo.png")
    assert model.data(model.index(row, COL_FLAG)) == "Out"
    from PySide6.QtCore import Qt

    assert "colour photograph" in model.data(model.index(row, COL_FLAG), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(row, COL_ERROR)).startswith("out of scope: colour photograph")
    tabs.setCurrentIndex(OUT_TAB)
    assert model.rowCount() == 1
    item = model.item(0)
    w.session.select(item.image_id)
    qtbot.waitUntil(lambda: "Out of the model's scope" in w.review.info.left.text())

    store = w.session.store
    with qtbot.waitSignal(w.session.counts_changed, timeout=10000):
        w.on_action("in_scope")
    qtbot.waitUntil(lambda: tabs.tabText(OUT_TAB).endswith(" 0"))
    mark = store.scope_marks()[item.image_id]
    assert mark.in_scope and mark.reviewer == "QA" and mark.scope_reason.startswith("colour photograph")
    tabs.setCurrentIndex(ALL_TAB)
    assert model.item(0).name == "photo.png" and model.item(0).flag is not None  # ranked, and flagged, now
    w.session.select(item.image_id)
    with qtbot.waitSignal(w.session.counts_changed, timeout=10000):
        w.on_action("in_scope")  # withdrawn
    qtbot.waitUntil(lambda: tabs.tabText(OUT_TAB).endswith(" 1"))
    assert not store.scope_marks()[item.image_id].in_scope
