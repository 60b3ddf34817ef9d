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
