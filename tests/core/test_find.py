"""Find by file name over the review order: case-insensitive substring of the name (or of the path
when the query has a separator), where to go from the current row in each direction (wrapping), the
place among the matches, and the matches the current filter hides."""

from __future__ import annotations

import pytest

from core.find import BACKWARD, FORWARD, HERE, find, matching_rows
from core.order import ReviewOrder
from core.worklist import Worklist
from tests.core.store.helpers import Thresholds, error_item, fake_id, item, open_test_store

NAMES = ["Knee_AP.dcm", "knee_lat.dcm", "wrist_pa.png", "ANKLE.jpg", "hand.png", "knee_old.png"]


@pytest.fixture
def order(tmp_path):
    store = open_test_store(tmp_path)
    probs = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]  # the worklist's order is the list's order
    store.record_scan_results(tmp_path, [item(tmp_path / ("2024" if i < 2 else "2023") / n, i, p)
                                         for i, (n, p) in enumerate(zip(NAMES, probs))]
                              + [error_item(tmp_path / "knee_broken.jpg")])
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    wl.set_filter("all")
    wl.reload()
    o = ReviewOrder(wl)
    yield o
    o.close()
    store.close()


def names(o, rows):
    return [o[r].name for r in rows]


def test_matches_ignore_case_and_surrounding_spaces(order):
    assert names(order, matching_rows(order, "  KNEE ")) == ["Knee_AP.dcm", "knee_lat.dcm", "knee_old.png", "knee_broken.jpg"]
    assert names(order, matching_rows(order, ".PNG")) == ["wrist_pa.png", "hand.png", "knee_old.png"]
    assert matching_rows(order, "") == [] and matching_rows(order, "   ") == []
    assert matching_rows(order, "elbow") == []


def test_a_query_with_a_separator_searches_the_path(order):
    assert names(order, matching_rows(order, "2024/")) == ["Knee_AP.dcm", "knee_lat.dcm"]
    assert names(order, matching_rows(order, "2023/knee")) == ["knee_old.png"]


def test_where_to_go_in_each_direction_wraps(order):
    knees = matching_rows(order, "knee")  # rows 0, 1, 5 and the error row 6
    assert knees == [0, 1, 5, 6]
    r = find(order, "knee", 0, HERE)
    assert (r.row, r.index, r.count, r.hidden) == (0, 1, 4, 0)
    assert find(order, "knee", 2, HERE).row == 5  # typing: the first at or after the current row
    assert find(order, "knee", 1, FORWARD).row == 5
    assert find(order, "knee", 6, FORWARD).row == 0  # wraps to the top
    assert find(order, "knee", 5, BACKWARD).row == 1
    r = find(order, "knee", 0, BACKWARD)  # wraps to the end
    assert (r.row, r.index) == (6, 4)
    assert find(order, "knee", -1, FORWARD).row == 0  # no current row yet
    none = find(order, "elbow", 3, FORWARD)
    assert (none.row, none.index, none.count, none.hidden) == (None, 0, 0, 0)


def test_matches_hidden_by_the_filter_are_counted(order):
    order.worklist.set_filter("flagged")  # flagged: probability ≥ 0.3 suspicious, all but the error here
    assert find(order, "knee", 0).hidden == 1  # the unreadable knee_broken.jpg is not shown
    order.worklist.set_filter("errors")
    r = find(order, "knee", 0)
    assert (r.count, r.hidden) == (1, 3) and order[r.row].name == "knee_broken.jpg"


def test_find_follows_a_column_sort(order):
    order.set_sort("name")
    rows = matching_rows(order, "knee")
    assert names(order, rows) == ["Knee_AP.dcm", "knee_broken.jpg", "knee_lat.dcm", "knee_old.png"]
    assert order[find(order, "knee", rows[1], FORWARD).row].name == "knee_lat.dcm"
    assert fake_id(0) == order[rows[0]].image_id
