"""The performance report on a store of confirmed labels: figures equal scikit-learn's, counts and
exclusions, the minimum-count rule (overall and per group), --since, groups, the alarm and its text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from core.evaluation import calibration as C
from core.evaluation import labelled as L
from core.evaluation.performance import alarm, report, text_lines
from tests.core.evaluation.helpers import labelled_store, model_card, scores_and_labels

skm = pytest.importorskip("sklearn.metrics", reason="scikit-learn is in the test extra")


@pytest.fixture
def case(tmp_path):
    y, p = scores_and_labels(45, 150, seed=3)
    parts = ["HAND" if i % 3 else "HIP" for i in range(len(y))]
    store = labelled_store(tmp_path, y, p, doubt=4, unlabelled=5, body_parts=parts)
    card = model_card(tmp_path, suspicious=0.1, definite=0.6)
    yield store, card, y, p, parts
    store.close()


def test_figures_match_sklearn_and_carry_their_counts(case):
    store, card, y, p, _ = case
    rep = report(store, card, n_boot=200)
    assert rep["enough_labels"]
    assert rep["counts"] == {"images": 195, "fracture": 45, "no_fracture": 150, "doubt_excluded": 4,
                             "without_score_excluded": 0, "before_since_excluded": 0,
                             "out_of_scope_excluded": 0}
    assert rep["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-4)
    assert rep["average_precision"]["value"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-4)
    lo, hi = rep["roc_auc"]["ci95"]
    assert lo < rep["roc_auc"]["value"] < hi
    for name, t in (("suspicious", 0.1), ("definite", 0.6)):
        tn, fp, fn, tp = skm.confusion_matrix(y, (p >= t).astype(int)).ravel()
        pt = rep[name]
        assert pt["confusion"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
        assert pt["sensitivity"]["value"] == pytest.approx(tp / (tp + fn), abs=1e-4) and pt["sensitivity"]["n"] == 45
        assert pt["specificity"]["value"] == pytest.approx(tn / (tn + fp), abs=1e-4) and pt["specificity"]["n"] == 150
    assert rep["curves"]["roc"]["fpr"][0] == 0.0 and rep["curves"]["roc"]["tpr"][-1] == 1.0
    assert sum(rep["curves"]["calibration"]["count"]) == 195


def test_groups_obey_the_minimum_count(case):
    store, card, y, _p, parts = case
    rep = report(store, card, n_boot=100)
    by = {r["group"]: r for r in rep["by_body_part"]}
    hand_pos = int(sum(1 for i, v in enumerate(y) if v and parts[i] == "HAND"))
    hip_pos = int(sum(1 for i, v in enumerate(y) if v and parts[i] == "HIP"))
    assert by["HAND"]["counts"]["fracture"] == hand_pos and by["HAND"]["enough_labels"] == (hand_pos >= 20)
    assert by["HIP"]["counts"]["fracture"] == hip_pos and not by["HIP"]["enough_labels"]  # 15 fractures
    assert "not enough labels yet" in by["HIP"]["message"] and "roc_auc" not in by["HIP"]
    assert [r["group"] for r in rep["by_month"]] == [datetime.now(timezone.utc).strftime("%Y-%m")]
    assert [r["group"] for r in rep["by_model_version"]] == [card.version]
    lines = "\n".join(text_lines(rep))
    assert "HIP: 15 fractures" in lines and "not enough labels yet" in lines


def test_below_the_minimum_no_figure_is_given(tmp_path):
    y, p = scores_and_labels(20, 19)
    store = labelled_store(tmp_path, y, p)
    card = model_card(tmp_path)
    rep = report(store, card, n_boot=50)
    assert not rep["enough_labels"] and "roc_auc" not in rep and rep["alarm"] is None
    assert rep["message"] == "not enough labels yet: 20 fractures and 19 non-fractures confirmed; figures need at least 20 of each"
    assert text_lines(rep)[-1].startswith("Not enough labels yet")
    store.close()


def test_since_excludes_older_decisions(case):
    store, card, *_ = case
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    rep = report(store, card, since=tomorrow, n_boot=50)
    assert rep["counts"]["images"] == 0 and rep["counts"]["before_since_excluded"] == 199
    assert L.parse_since("2026-01-31") == datetime(2026, 1, 31, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="--since must be a date"):
        L.parse_since("last week")


def test_alarm_when_the_lower_bound_is_below_the_promise(case):
    store, card, y, p, _ = case
    rep = report(store, card, n_boot=200)  # card threshold 0.1 misses many fractures
    sens = rep["suspicious"]["sensitivity"]
    assert sens["ci95"][0] < 0.95
    assert rep["alarm"] is not None and f"{sens['n']} confirmed fractures" in rep["alarm"]
    assert "calibrate" in rep["alarm"]
    # after calibrating on these labels every fracture but the lowest 5% is caught; a perfect
    # separation gives no alarm at all
    C.apply(store, C.propose(store, card), "dr a")
    rep2 = report(store, card, n_boot=200)
    assert rep2["thresholds"]["source"] == "calibration"
    assert rep2["suspicious"]["sensitivity"]["value"] >= 0.95
    fake = {"enough_labels": True, "suspicious": {"sensitivity": {"value": 1.0, "ci95": [0.96, 1.0], "n": 90},
                                                  "confusion": {"fn": 0}}}
    assert alarm(fake) is None


def test_study_is_the_bootstrap_group_where_known():
    class R:
        def __init__(self, i, study):
            self.image_id, self.label, self.study_uid = f"id{i}", "fracture" if i % 2 else "no_fracture", study
            self.decided_at = datetime(2026, 3, 1, tzinfo=timezone.utc)
            self.scores, self.body_part, self.view, self.path = {"v": i / 10}, None, None, None

    d = L.build([R(0, "1.2.3"), R(1, "1.2.3"), R(2, None)], "v")
    assert list(d.groups) == ["study:1.2.3", "study:1.2.3", "image:id2"]
    assert np.array_equal(d.y, [0, 1, 0]) and d.month == ["2026-03"] * 3


def test_out_of_scope_images_do_not_count_unless_marked_in_scope_after_all(tmp_path):
    """An image the version's scope gate put out of scope was never flagged: its score does not describe
    the model and is left out (counted); a reader's "in scope after all" mark brings it back."""
    import dataclasses

    from core.evaluation import labelled as L
    from tests.core.store.helpers import fake_id, item

    y, p = scores_and_labels(30, 40, seed=5)
    store = labelled_store(tmp_path, y, p)
    version = "0.0.1-test"
    gated = [0, 1, 2, 40, 41]  # three fractures, two non-fractures
    root = tmp_path / "xr"
    store.record_scan_results(root, [dataclasses.replace(item(root / f"img{i:04d}.png", i, float(p[i]), model=version),
                                                         scope="out_of_scope", scope_reason="CT image")
                                     for i in gated])
    data = L.build(store.labelled_images(), version)
    assert data.n == len(y) - len(gated) and data.out_of_scope == len(gated)
    assert data.counts()["out_of_scope_excluded"] == len(gated)
    assert fake_id(0) not in data.image_ids and data.fractures == 27
    store.mark_scope(fake_id(0), "dr a", in_scope=True, model_version=version, scope_reason="CT image")
    again = L.build(store.labelled_images(), version)
    assert again.n == len(y) - len(gated) + 1 and fake_id(0) in again.image_ids
    assert "out of the model's scope" in "\n".join(text_lines(report(store, model_card(tmp_path), n_boot=50)))
    store.close()
