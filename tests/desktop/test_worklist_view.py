"""``desktop.worklist_view`` on its own: the table displays the core review order (it never sorts by
itself), header clicks ask the order to sort, rows arriving under a sort keep the model consistent
(Qt's model tester), and the panel's tabs and row picks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.order import ReviewOrder, row_key
from core.worklist import FILTERS, Worklist
from desktop.worklist_model import COL_DECISION, COL_FILE, COL_FLAG, COL_PROB, ITEM_ROLE, ROW_KEY_ROLE
from desktop.worklist_view import WorklistPanel
from tests.core.store.helpers import Thresholds, error_item, fake_id, fill, item, open_test_store


@pytest.fixture
def bound(qtbot, tmp_path):
    store = open_test_store(tmp_path)
    fill(store, tmp_path, [0.2, 0.9, 0.5, 0.7])
    store.record_scan_results(tmp_path, [error_item(tmp_path / "bad.jpg")])
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    wl.reload()
    order = ReviewOrder(wl)
    panel = WorklistPanel()
    qtbot.addWidget(panel)
    panel.model.set_order(order)
    yield panel, order, wl, store
    order.close()
    store.close()


def names(panel):
    return [it.name for it in panel.shown_items()]


def test_shows_the_order_and_sorts_through_it(bound):
    panel, order, wl, store = bound
    assert names(panel) == ["img0001.png", "img0003.png", "img0002.png", "img0000.png"]  # probability order
    panel.table.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
    assert order.sort_column == "name" and not order.descending
    assert names(panel) == sorted(names(panel))
    panel.table.sortByColumn(COL_PROB, Qt.SortOrder.DescendingOrder)
    assert (order.sort_column, order.descending) == ("probability", True)
    assert [it.probability for it in panel.shown_items()] == [0.9, 0.7, 0.5, 0.2]
    panel.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
    assert order.sort_column is None


def test_roles_and_row_of(bound):
    panel, order, wl, store = bound
    m = panel.model
    idx = m.index(0, COL_PROB)
    assert idx.data() == "90%" and idx.data(ITEM_ROLE).image_id == fake_id(1)
    assert idx.data(ROW_KEY_ROLE) == fake_id(1) and m.row_of(fake_id(1)) == 0 and m.row_of("nope") == -1
    wl.set_filter("errors")
    assert m.rowCount() == 1 and m.index(0, 0).data(ROW_KEY_ROLE) == str(wl[0].path) == row_key(wl[0])


def test_multidata_answers_every_role_as_data_does_in_one_call_per_cell(bound, qtbot, monkeypatch):
    """A repaint asks each cell's roles through ``multiData`` (one call from Qt into Python per cell,
    not one per role); its answers are ``data``'s, role by role, for every cell and unknown roles."""
    from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan
    from PySide6.QtGui import QPixmap

    panel, order, wl, store = bound
    m = panel.model
    wl.set_filter("all")
    roles = [int(r) for r in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.FontRole,
                              Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
                              Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.BackgroundRole,
                              Qt.ItemDataRole.CheckStateRole, int(ITEM_ROLE), int(ROW_KEY_ROLE))]
    for row in range(m.rowCount()):
        for col in range(m.columnCount()):
            idx = m.index(row, col)
            for role in roles:
                rd = QModelRoleData(role)
                rd.setData("stale")  # a reused span: what multiData does not answer is cleared
                m.multiData(idx, QModelRoleDataSpan(rd))
                got, want = rd.data(), m.data(idx, role)
                if isinstance(want, QPixmap):  # the same cached pixmap, wrapped afresh
                    got, want = got.cacheKey(), want.cacheKey()
                assert got == want, (row, col, role)
    calls = {"data": 0, "multi": 0}
    cls = type(m)
    plain_data, plain_multi = cls.data, cls.multiData

    def counted(name, fn):
        def wrapper(*a):
            calls[name] += 1
            return fn(*a)
        return wrapper

    monkeypatch.setattr(cls, "data", counted("data", plain_data))
    monkeypatch.setattr(cls, "multiData", counted("multi", plain_multi))
    panel.resize(700, 400)
    with qtbot.waitExposed(panel):
        panel.show()
    assert panel.table.itemDelegateForColumn(COL_FILE) is None  # image rows: Qt's own middle elision
    assert panel.table.itemDelegateForColumn(COL_PROB) is None  # the bars are the cells' decoration
    panel.grab()  # paints every visible cell once
    # one multiData per visible cell, and no other call into Python: no Python delegate paints a row
    assert calls["multi"] >= m.rowCount() * 4 and calls["data"] == 0


def test_probability_bar_is_a_cached_pixmap_coloured_by_the_flag(bound, qtbot):
    """The Probability column is painted by Qt from a pixmap decoration: its filled length follows
    the probability, its colour the flag; rows alike share one pixmap; no score, an empty track."""
    from types import SimpleNamespace

    from PySide6.QtGui import QPixmap

    from desktop import theme
    from desktop.worklist_model import BAR_W, bar_for

    panel, order, wl, store = bound
    m = panel.model
    wl.set_filter("all")
    deco = m.index(0, COL_PROB).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(deco, QPixmap) and deco.width() == round(BAR_W * m.pixel_ratio)
    assert m.index(0, COL_FLAG).data(Qt.ItemDataRole.DecorationRole) is None

    def filled(pm, colour):
        img = pm.toImage()
        y = img.height() // 2
        return sum(1 for x in range(img.width()) if img.pixelColor(x, y).rgb() == colour.rgb())

    high = SimpleNamespace(probability=0.9, flag="definite")
    low = SimpleNamespace(probability=0.25, flag=None)
    ph, pl = bar_for(high, 1.0), bar_for(low, 1.0)
    assert bar_for(SimpleNamespace(probability=0.9, flag="definite"), 1.0) is ph  # made once
    nh, nl = filled(ph, theme.flag_colour("definite", 0.9)), filled(pl, theme.flag_colour(None, 0.25))
    assert abs(nh - 0.9 * BAR_W) <= 4 and abs(nl - 0.25 * BAR_W) <= 4
    assert filled(pl, theme.flag_colour("definite", 0.9)) == 0  # the flag decides the colour
    none = bar_for(SimpleNamespace(probability=None, flag=None), 1.0)
    assert all(filled(none, c) == 0 for c in (theme.flag_colour("definite", 0.9), theme.flag_colour(None, 0.25)))
    sharp = bar_for(high, 2.0)
    assert sharp.width() == 2 * BAR_W and sharp.devicePixelRatio() == 2.0


def test_rows_arriving_under_a_sort_keep_the_model_consistent(bound, qtmodeltester, tmp_path):
    panel, order, wl, store = bound
    qtmodeltester.check(panel.model)
    panel.table.sortByColumn(COL_DECISION, Qt.SortOrder.DescendingOrder)
    from PySide6.QtTest import QAbstractItemModelTester

    tester = QAbstractItemModelTester(panel.model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    wl.set_filter("all")
    for n in range(6):
        wl.add_scan_items([item(tmp_path / f"new{n}.png", f"new{n}", 0.1 * n)])
    wl.apply_decision(store.record_decision(fake_id(2), "RB", "fracture"))
    assert [row_key(it) for it in panel.shown_items()] == [row_key(it) for it in order]
    assert panel.shown_items()[0].image_id == fake_id(2)  # the one decided row first (label descending)
    del tester


def test_a_row_pick_names_the_row_and_programmatic_selection_does_not(bound, qtbot):
    panel, order, wl, store = bound
    picked = []
    panel.image_activated.connect(picked.append)
    panel.select_key(fake_id(3))
    assert picked == [] and panel.table.currentIndex().row() == 1
    panel.table.setCurrentIndex(panel.model.index(2, 0))
    assert picked == [fake_id(2)]


def test_tabs_emit_filters_and_show_counts(bound, qtbot):
    panel, order, wl, store = bound
    with qtbot.waitSignal(panel.filter_selected) as sig:
        panel.tabs.setCurrentIndex(FILTERS.index("errors"))
    assert sig.args == ["errors"]
    panel.set_counts(wl.counts())
    assert panel.tabs.tabText(0) == "To review 4" and panel.tabs.tabText(FILTERS.index("errors")) == "Errors 1"
    panel.show_filter("all")  # no signal when the session sets it
    assert panel.current_filter() == "all"


def test_the_current_row_stays_current_when_the_order_is_sorted(bound):
    panel, order, wl, store = bound
    panel.select_key(fake_id(3))
    panel.table.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
    assert panel.table.currentIndex().data(ROW_KEY_ROLE) == fake_id(3)
    assert panel.table.selectionModel().isRowSelected(panel.table.currentIndex().row())


def test_header_clicks_sort_on_the_pool_and_a_later_click_overtakes_an_earlier(bound, qtbot, tmp_path):
    """With a task runner the sort is worked out on its pool: the rows stay as they are until it is
    back; a second click before then wins (one sort_done, the second sort shown); a change of the
    rows meanwhile is sorted in; back to the probability order happens at once."""
    from desktop.tasks import TaskRunner

    panel, order, wl, store = bound
    tasks = TaskRunner()
    panel.model.set_tasks(tasks)
    before = names(panel)
    done = []
    panel.model.sort_done.connect(lambda: done.append(order.sort_column))
    panel.select_key(fake_id(3))
    with qtbot.waitSignal(panel.model.sort_done, timeout=10000):
        panel.table.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
        panel.table.sortByColumn(COL_PROB, Qt.SortOrder.AscendingOrder)
        assert panel.model.sort_pending and names(panel) == before  # nothing installed yet
        wl.add_scan_items([item(tmp_path / "late.png", "late", 0.05)])
    qtbot.wait(50)
    assert done == ["probability"] and not panel.model.sort_pending
    assert [it.probability for it in panel.shown_items()] == sorted(it.probability for it in panel.shown_items())
    assert len(panel.shown_items()) == 5 and panel.table.currentIndex().data(ROW_KEY_ROLE) == fake_id(3)
    panel.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
    assert order.sort_column is None and not panel.model.sort_pending
    tasks.shutdown()
