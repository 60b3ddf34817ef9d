"""Metrics against brute-force definitions and known cases."""

import numpy as np
import pytest

from core.evaluation import metrics as M


def _brute_auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    return np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg])


def test_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(int)
    p = np.round(rng.random(200) + 0.3 * y, 1)  # many ties
    assert abs(M.roc_auc(y, p) - _brute_auc(y, p)) < 1e-12
    fpr, tpr, _ = M.roc_curve(y, p)
    assert abs(np.trapezoid(tpr, fpr) - M.roc_auc(y, p)) < 1e-9


def test_average_precision_known_case():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1])
    assert abs(M.average_precision(y, p) - (0.5 * 1 + 0.5 * 2 / 3)) < 1e-12


def test_operating_points():
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.2).astype(int)
    p = rng.random(500) + 0.5 * y
    t = M.threshold_for_sensitivity(y, p, 0.95)
    assert M.at_threshold(y, p, t)["sensitivity"] >= 0.95
    assert M.at_threshold(y, p, np.nextafter(t, 2))["sensitivity"] < 0.95
    t2 = M.threshold_for_specificity(y, p, 0.90)
    assert M.at_threshold(y, p, t2)["specificity"] >= 0.90
    share = M.deferrable_share(y, p)
    assert abs(share - np.mean(p < t)) < 1e-12


def test_calibration_and_temperature():
    rng = np.random.default_rng(2)
    z = rng.normal(0, 2, 20000)
    y = (rng.random(len(z)) < M.sigmoid(z)).astype(int)
    assert abs(M.fit_temperature(y, 3 * z) - 3) < 0.2  # logits 3x too confident -> T ~ 3
    assert M.ece(y, M.sigmoid(z)) < 0.02
    assert M.ece(y, M.sigmoid(3 * z)) > 0.05
    assert abs(M.brier(np.array([1, 0]), np.array([1.0, 0.5])) - 0.125) < 1e-12


def test_bootstrap_interval_brackets_estimate():
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.3).astype(int)
    p = rng.random(300) + 0.4 * y
    v, lo, hi = M.bootstrap_ci(M.roc_auc, y, p, groups=np.arange(300) // 5, n=200)
    assert lo < v < hi and 0.5 < v < 1


def test_threshold_with_margin_keeps_the_target_with_room():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.2).astype(int)
    p = rng.normal(y * 1.5, 1.0)
    groups = np.arange(2000) // 10
    plain = M.threshold_for_sensitivity(y, p, 0.95)
    t = M.threshold_with_margin(y, p, groups, target=0.95, kind="sensitivity")
    assert t < plain and M.at_threshold(y, p, t)["sensitivity"] > 0.95
    lo = M.bootstrap_ci(lambda yy, pp: M.at_threshold(yy, pp, t)["sensitivity"], y, p, groups, n=400)[1]
    assert lo >= 0.94  # its own group-bootstrap lower bound is at the target (different resamples)
    td = M.threshold_with_margin(y, p, groups, target=0.90, kind="specificity")
    assert td > M.threshold_for_specificity(y, p, 0.90) and M.at_threshold(y, p, td)["specificity"] > 0.90
    with pytest.raises(ValueError):
        M.threshold_with_margin(y, p, groups, target=0.9, kind="ppv")
