"""Export carries each row's scope verdict and "in scope after all" mark; the gate's next fit keeps
in-scope and marked rows only."""

from __future__ import annotations

import csv

from core.export import export_labels
from core.scope.exports import gate_rows
from tests.core.store.helpers import item, open_test_store


def test_export_rows_carry_the_verdict_and_the_mark(tmp_path):
    store = open_test_store(tmp_path)
    root = tmp_path / "xr"
    a, b, c = item(root / "a.png", 1, 0.9), item(root / "b.png", 2, 0.2), item(root / "c.png", 3, 0.5)
    a.scope, a.scope_reason = "out_of_scope", "CT image"
    b.scope = "in_scope"
    c.scope, c.scope_reason = "out_of_scope", "chest radiograph"
    store.record_scan_results(root, [a, b, c])
    for it in (a, b, c):
        store.record_decision(it.image_id, "dr who", "no_fracture", model_version="m1", probability=it.probability)
    store.mark_scope(c.image_id, "AB", model_version="m1", scope_reason="chest radiograph")
    summary = export_labels(store, tmp_path / "out")
    with open(summary.out / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_prob = {r["probability"]: r for r in rows}
    assert (by_prob["0.900000"]["scope"], by_prob["0.900000"]["scope_reason"]) == ("out_of_scope", "CT image")
    assert by_prob["0.200000"]["scope"] == "in_scope" and by_prob["0.200000"]["scope_marked_by"] == ""
    marked = by_prob["0.500000"]
    assert marked["scope"] == "out_of_scope" and marked["scope_marked_by"] == "AB" and marked["scope_marked_at"]
    assert sorted(r["probability"] for r in gate_rows(rows)) == ["0.200000", "0.500000"]
    store.close()
