"""Shadow test on a small generated set with two test models: the candidate scores every labelled
image once (stored under its version, reused next time, the worklist's model untouched), moved and
changed files are counted and skipped, and the report's figures equal scikit-learn's / SciPy's."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.evaluation.compare import compare, score_labelled, text_lines
from core.model import load_model
from core.scan import scan
from tests.core.store.helpers import open_test_store
from tests.model_factory import write_model

skm = pytest.importorskip("sklearn.metrics", reason="scikit-learn is in the test extra")
scipy_stats = pytest.importorskip("scipy.stats", reason="SciPy comes with scikit-learn")


def _png(value: int) -> bytes:
    buf = io.BytesIO()  # an image the scope gate accepts (not blank, not tiny) whose mean is ``value``
    ramp = np.tile(np.linspace(-15, 15, 96), (80, 1))
    Image.fromarray(np.clip(value + ramp, 0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def clinic(tmp_path):
    """60 images of distinct brightness; 'fracture' mostly for the bright ones (with label noise)."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "xr"
    folder.mkdir()
    values = rng.permutation(np.arange(30, 230, 200 / 62).astype(int)[:62])
    truth = {}
    for i, v in enumerate(values):
        (folder / f"im{i:03d}.png").write_bytes(_png(int(v)))
        truth[f"im{i:03d}.png"] = int(v + rng.normal(0, 40) > 130)
    current = load_model(write_model(tmp_path / "a", name="testnet", version="1.0.0", gain=8.0))
    candidate = load_model(write_model(tmp_path / "b", name="testnet", version="2.0.0", gain=-3.0,
                                       suspicious=0.2, definite=0.5))
    store = open_test_store(tmp_path)
    summary = scan(folder, current, workers=1)
    store.record_scan_results(folder, summary.items)
    ids = {}
    for it in summary.items:
        ids[it.path.name] = it.image_id
        label = "fracture" if truth[it.path.name] else "no_fracture"
        store.record_decision(it.image_id, "dr a", label, model_version="1.0.0", probability=it.probability)
    yield store, current, candidate, folder, truth, ids
    store.close()


def test_compare_scores_once_stores_under_the_candidate_version_and_matches_sklearn(clinic):
    store, current, candidate, folder, truth, ids = clinic
    (folder / "im000.png").unlink()  # moved away since it was labelled
    (folder / "im001.png").write_bytes(_png(3))  # now holds another image
    scoring = score_labelled(store, candidate, workers=1)
    assert scoring.labelled == 62 and scoring.missing == 1 and scoring.changed == 1
    assert scoring.scored == 60 and scoring.stored == 60 and scoring.reused == 0
    assert any("im000.png: no longer there" in p for p in scoring.problems)
    # the worklist's model is untouched: current-version rows unchanged; candidate rows under 2.0.0
    assert all(r.model_version == "1.0.0" for r in store.image_rows(model_version="1.0.0"))
    assert len([r for r in store.image_rows(model_version="2.0.0") if r.probability is not None]) == 60
    again = score_labelled(store, candidate, workers=1)
    assert again.reused == 60 and again.scored == 0 and again.stored == 0  # no file read twice

    rep = compare(store, current.card, candidate.card, scoring=scoring, n_boot=200)
    rows = [r for r in store.labelled_images() if "2.0.0" in r.scores]
    y = np.array([r.label == "fracture" for r in rows], int)
    pa = np.array([r.scores["1.0.0"] for r in rows])
    pb = np.array([r.scores["2.0.0"] for r in rows])
    assert rep["counts"]["images"] == 60
    assert rep["current"]["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y, pa), abs=1e-4)
    assert rep["candidate"]["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y, pb), abs=1e-4)
    d = rep["auc_difference"]
    assert d["candidate_minus_current"] == pytest.approx(skm.roc_auc_score(y, pb) - skm.roc_auc_score(y, pa), abs=1e-4)
    assert d["ci95"][1] < 0  # the inverted candidate is clearly worse
    ra = (pa >= 0.3) == (y == 1)
    rb = (pb >= 0.2) == (y == 1)
    b, c = int((ra & ~rb).sum()), int((~ra & rb).sum())
    m = rep["mcnemar"]["suspicious"]
    assert (m["only_current_right"], m["only_candidate_right"]) == (b, c)
    assert m["p_value"] == pytest.approx(scipy_stats.binomtest(b, b + c, 0.5).pvalue, rel=2e-3)  # reported to 3 digits
    top = rep["disagreements"][0]
    assert top["path"] and (folder / top["path"].split("/")[-1]).exists()
    assert abs(top["rank_gap"]) == max(abs(r["rank_gap"]) for r in rep["disagreements"])
    text = "\n".join(text_lines(rep))
    assert "AUC difference (candidate − current)" in text and "McNemar at 'suspicious'" in text


def test_compare_with_too_few_labels_or_the_same_version(clinic, tmp_path):
    store, current, candidate, *_ = clinic
    rep = compare(store, current.card, candidate.card)  # the candidate has scored nothing yet
    assert not rep["enough_labels"] and "not enough labels" in rep["message"]
    same = compare(store, current.card, current.card)
    assert "same version" in same["message"]


def test_cancelled_scoring_keeps_what_was_scored(clinic):
    import threading

    store, _current, candidate, *_ = clinic
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p.done)
        if p.done >= 5:
            cancel.set()

    s = score_labelled(store, candidate, cancel=cancel, on_progress=progress, workers=1, batch_size=1)
    assert s.cancelled and 5 <= s.scored < 62 and s.stored == s.scored
