"""Agreement figures against independent implementations: Cohen's κ against scikit-learn, Fleiss' κ
against the worked example of Fleiss (1971) and against a hand computation, Wilson intervals
against their closed form; the report's counts and per-mode split."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.agreement import CATEGORIES, Read, agreement_report, cohen_kappa, fleiss_kappa, wilson


def test_cohen_kappa_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics", reason="scikit-learn (test extra) not installed")
    rnd = random.Random(3)
    for trial in range(30):
        n = rnd.randint(5, 200)
        a = [rnd.choice(CATEGORIES) for _ in range(n)]
        b = [x if rnd.random() < 0.6 else rnd.choice(CATEGORIES) for x in a]
        ours = cohen_kappa(a, b)
        theirs = sk.cohen_kappa_score(a, b, labels=list(CATEGORIES))
        assert ours == pytest.approx(theirs, abs=1e-12), trial


def test_cohen_kappa_edge_cases():
    assert cohen_kappa(["fracture"] * 4, ["fracture"] * 4) is None  # chance agreement 1: undefined
    assert cohen_kappa(["fracture", "no_fracture"], ["fracture", "no_fracture"]) == 1.0
    assert cohen_kappa([], []) is None


def test_fleiss_kappa_matches_the_1971_worked_example():
    # Fleiss (1971) / the common textbook table: 10 subjects, 14 raters, 5 categories -> 0.210
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert fleiss_kappa(table) == pytest.approx(0.2099, abs=5e-4)


def test_fleiss_with_two_readers_equals_its_own_definition_by_hand():
    table = np.array([[2, 0, 0], [0, 2, 0], [1, 1, 0], [0, 1, 1], [2, 0, 0]])
    p_j = table.sum(0) / table.sum()
    p_i = ((table ** 2).sum(1) - 2) / 2
    expected = (p_i.mean() - (p_j ** 2).sum()) / (1 - (p_j ** 2).sum())
    assert fleiss_kappa(table) == pytest.approx(expected)


def test_wilson_interval():
    iv = wilson(45, 50)
    assert iv.value == 0.9 and iv.low == pytest.approx(0.7864, abs=1e-3) and iv.high == pytest.approx(0.9565, abs=1e-3)
    assert wilson(0, 0).value is None


def test_report_pairs_fleiss_readers_and_modes():
    rnd = random.Random(11)
    truth = {f"i{k}": rnd.choice(["fracture", "no_fracture"]) for k in range(120)}
    reads = []
    for img, t in truth.items():
        for reader, acc, mode in (("A", 0.9, "aided"), ("B", 0.8, "blinded"), ("C", 0.85, "aided")):
            if reader == "C" and int(img[1:]) % 2:
                continue  # C read only half the images
            label = t if rnd.random() < acc else ("no_fracture" if t == "fracture" else "fracture")
            reads.append(Read(img, reader, label, mode, shown_ms=rnd.randint(1000, 9000)))
    rep = agreement_report(reads, truth, {k: "adjudicated" for k in truth})
    assert rep.readers == ["A", "B", "C"] and rep.images == 120
    assert rep.pairs["A | C"].n == 60 and rep.pairs["A | B"].n == 120
    ab = [(r.label) for r in reads if r.reader == "A"], [(r.label) for r in reads if r.reader == "B"]
    assert rep.pairs["A | B"].value == pytest.approx(cohen_kappa(*ab))
    assert rep.pairs["A | B"].low < rep.pairs["A | B"].value < rep.pairs["A | B"].high
    assert rep.fleiss.n == 120 and rep.fleiss.low < rep.fleiss.value < rep.fleiss.high
    a = next(s for s in rep.per_reader if s.reader == "A")
    assert a.reads == 120 and a.sensitivity.n + a.specificity.n == 120 and a.sensitivity.value > 0.75
    modes = {m.mode: m for m in rep.modes}
    assert modes["aided"].reads == 180 and modes["blinded"].reads == 120 and modes["blinded"].timed == 120
    assert rep.reference_counts == {"adjudicated": 120}


def _random_study(seed: int, n: int = 150):
    """Readings of three readers and a reference with every source the store gives."""
    rnd = random.Random(seed)
    reference, source, reads = {}, {}, []
    for k in range(n):
        img = f"i{k}"
        kind = rnd.choice(["adjudicated", "adjudicated", "agreed", "disputed", "single"])
        truth = rnd.choice(["fracture", "no_fracture", "doubt"] if kind == "adjudicated" else ["fracture", "no_fracture"])
        reference[img], source[img] = (None if kind == "disputed" else truth), kind
        for reader, acc in (("A", 0.85), ("B", 0.7), ("C", 0.8)):
            if rnd.random() < 0.2:
                continue
            label = truth if rnd.random() < acc else rnd.choice(CATEGORIES)
            reads.append(Read(img, reader, label, rnd.choice(["aided", "blinded"]), shown_ms=rnd.randint(500, 9000)))
    return reads, reference, source


def _expected(skm, chosen, reference, source):  # noqa: ANN001
    """scikit-learn's figures for these readings: (tp, fn, tn, fp), doubt, sensitivity, specificity."""
    scored = [(reference[r.image_id], r.label) for r in chosen
              if source[r.image_id] != "single" and reference[r.image_id] in ("fracture", "no_fracture")]
    y_true = [t for t, p in scored if p != "doubt"]
    y_pred = [p for t, p in scored if p != "doubt"]
    (tn, fp), (fn, tp) = skm.confusion_matrix(y_true, y_pred, labels=["no_fracture", "fracture"])
    return ((tp, fn, tn, fp), sum(1 for _, p in scored if p == "doubt"),
            skm.recall_score(y_true, y_pred, pos_label="fracture"), skm.recall_score(y_true, y_pred, pos_label="no_fracture"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sensitivity_and_specificity_per_reader_and_mode_match_scikit_learn(seed):
    """Sensitivity = recall of fracture, specificity = recall of no_fracture, over the readings whose
    reference is fracture/no_fracture (a 'single' reference — the reader's own label — and doubtful
    readings not scored), with scikit-learn's confusion matrix as the counts; per reader and per
    reading mode (pooled over readers)."""
    skm = pytest.importorskip("sklearn.metrics", reason="scikit-learn (test extra) not installed")
    reads, reference, source = _random_study(seed)
    rep = agreement_report(reads, reference, source)
    groups = [(s, [r for r in reads if r.reader == s.reader]) for s in rep.per_reader]
    groups += [(m, [r for r in reads if r.mode == m.mode]) for m in rep.modes]
    assert len(groups) == 5
    for score, chosen in groups:
        counts, doubt, sens, spec = _expected(skm, chosen, reference, source)
        c = score.counts
        assert (c.tp, c.fn, c.tn, c.fp) == counts and c.doubt == doubt
        assert c.tp + c.fn + c.tn + c.fp + c.doubt + c.unscored == score.reads == len(chosen)
        assert score.sensitivity.value == pytest.approx(sens) and score.specificity.value == pytest.approx(spec)
        assert (score.sensitivity.n, score.specificity.n) == (c.tp + c.fn, c.tn + c.fp)
        assert 0 < c.unscored < len(chosen)  # disputed, single and doubtful references are in the study


def test_wilson_interval_matches_scipy():
    stats = pytest.importorskip("scipy.stats", reason="scipy (with scikit-learn, test extra) not installed")
    for k, n in [(0, 7), (3, 7), (7, 7), (45, 50), (118, 301), (1, 1)]:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        iv = wilson(k, n)
        assert (iv.low, iv.high) == (pytest.approx(ci.low, abs=1e-6), pytest.approx(ci.high, abs=1e-6)), (k, n)


def test_a_single_reading_is_not_scored_against_itself():
    reads = [Read("x", "A", "fracture"), Read("y", "A", "no_fracture"), Read("z", "A", "fracture"),
             Read("z", "B", "fracture")]
    rep = agreement_report(reads, {"x": "fracture", "y": "no_fracture", "z": "fracture"},
                           {"x": "single", "y": "single", "z": "agreed"})
    a = next(s for s in rep.per_reader if s.reader == "A")
    assert (a.counts.tp, a.counts.unscored, a.sensitivity.n, a.specificity.n) == (1, 2, 1, 0)
    assert a.specificity.value is None
