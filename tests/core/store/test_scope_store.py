"""The store keeps each prediction's scope verdict and the append-only "in scope after all" marks."""

from __future__ import annotations

import pytest

from core.store import StoreError
from tests.core.store.helpers import item, open_test_store


@pytest.fixture
def store(tmp_path):
    s = open_test_store(tmp_path)
    yield s
    s.close()


def test_verdict_is_stored_with_the_prediction_and_reused(store, tmp_path):
    root = tmp_path / "xr"
    ct = item(root / "ct.dcm", 1, 0.9)
    ct.scope, ct.scope_reason = "out_of_scope", "CT image"
    hand = item(root / "hand.jpg", 2, 0.4)
    hand.scope = "in_scope"
    store.record_scan_results(root, [ct, hand])
    hit = store.known_location(ct.path, ct.size, ct.mtime_ns, "m1")
    assert hit[3:] == ("out_of_scope", "CT image")
    rows = {r.image_id: r for r in store.image_rows(root, "m1")}
    assert (rows[ct.image_id].scope, rows[ct.image_id].scope_reason) == ("out_of_scope", "CT image")
    assert rows[hand.image_id].scope == "in_scope" and rows[hand.image_id].scope_mark is None
    # a re-scan with a verdict (e.g. after a fix of the gate) updates it in place
    ct.scope, ct.scope_reason = "in_scope", None
    store.record_scan_results(root, [ct])
    assert store.known_location(ct.path, ct.size, ct.mtime_ns, "m1")[3:] == ("in_scope", None)


def test_marks_are_events_latest_in_force(store, tmp_path):
    root = tmp_path / "xr"
    ct = item(root / "chest.dcm", 1, 0.9)
    ct.scope, ct.scope_reason = "out_of_scope", "chest radiograph"
    store.record_scan_results(root, [ct])
    m = store.mark_scope(ct.image_id, "dr who", model_version="m1", scope_reason="chest radiograph")
    assert m.in_scope and m.reviewer == "dr who" and m.at.tzinfo is not None and m.scope_reason == "chest radiograph"
    assert store.image_rows(root, "m1")[0].scope_mark == m
    w = store.mark_scope(ct.image_id, "AB", in_scope=False, model_version="m1")
    assert store.scope_marks()[ct.image_id] == w and not w.in_scope and w.id > m.id
    with pytest.raises(ValueError, match="reviewer"):
        store.mark_scope(ct.image_id, "  ")
    with pytest.raises(StoreError, match="not in the database"):
        store.mark_scope("f" * 64, "dr who")
