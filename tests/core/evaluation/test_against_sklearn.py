"""core.evaluation.metrics against scikit-learn / SciPy (the ``test`` extra): AUC, AP, curves, the
bootstrap (same resamples, sklearn's statistic), the paired bootstrap and McNemar's exact test."""

import numpy as np
import pytest

from core.evaluation import metrics as M

sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is in the test extra")
scipy_stats = pytest.importorskip("scipy.stats", reason="SciPy comes with scikit-learn")


def _data(seed, n=300, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    p = rng.random(n) * 0.7 + 0.3 * y * rng.random(n)
    return y, (np.round(p, 1) if ties else p)


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, False), (3, True)])
def test_auc_and_ap_equal_sklearn(seed, ties):
    y, p = _data(seed, ties=ties)
    assert M.roc_auc(y, p) == pytest.approx(sklearn_metrics.roc_auc_score(y, p), abs=1e-12)
    assert M.average_precision(y, p) == pytest.approx(sklearn_metrics.average_precision_score(y, p), abs=1e-12)


def test_roc_curve_equals_sklearn():
    y, p = _data(4, ties=True)
    fpr, tpr, thr = M.roc_curve(y, p)
    sf, st, _ = sklearn_metrics.roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sf)
    np.testing.assert_allclose(tpr, st)


def test_confusion_at_threshold_equals_sklearn():
    y, p = _data(5)
    t = 0.4
    tn, fp, fn, tp = sklearn_metrics.confusion_matrix(y, (p >= t).astype(int)).ravel()
    r = M.at_threshold(y, p, t)
    assert r["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert r["specificity"] == pytest.approx(tn / (tn + fp))


def test_bootstrap_interval_is_the_percentile_interval_of_sklearn_auc_on_the_same_resamples():
    y, p = _data(6, n=200)
    groups = np.arange(200) // 4
    ref = [sklearn_metrics.roc_auc_score(y[i], p[i]) for i in M.bootstrap_indices(groups, 200, 300, seed=3)
           if 0 < y[i].sum() < len(i)]
    point, lo, hi = M.bootstrap_ci(M.roc_auc, y, p, groups, n=300, seed=3)
    assert point == pytest.approx(sklearn_metrics.roc_auc_score(y, p))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(ref, [0.025, 0.975])), abs=1e-12)
    assert lo < point < hi


def test_bootstrap_resamples_whole_groups():
    groups = np.repeat(np.arange(30), 5)
    for idx in M.bootstrap_indices(groups, len(groups), 20, seed=1):
        assert len(idx) == len(groups)
        picked = groups[idx]
        for g in np.unique(picked):  # a picked group comes with all five of its members, k times
            assert (picked == g).sum() % 5 == 0


def test_paired_bootstrap_of_auc_difference_against_sklearn():
    y, p = _data(7, n=250)
    rng = np.random.default_rng(8)
    q = np.clip(p + rng.normal(0, 0.2, len(p)), 0, 1)
    point, lo, hi = M.paired_bootstrap_ci(M.roc_auc, y, p, q, None, n=300, seed=5)
    ref = [sklearn_metrics.roc_auc_score(y[i], p[i]) - sklearn_metrics.roc_auc_score(y[i], q[i])
           for i in M.bootstrap_indices(None, len(y), 300, seed=5)]
    assert point == pytest.approx(sklearn_metrics.roc_auc_score(y, p) - sklearn_metrics.roc_auc_score(y, q))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(ref, [0.025, 0.975])), abs=1e-12)
    same = M.paired_bootstrap_ci(M.roc_auc, y, p, p, None, n=50)
    assert same == (0.0, 0.0, 0.0)  # identical models: no difference in any resample


@pytest.mark.parametrize("b,c", [(0, 0), (0, 5), (3, 12), (12, 3), (40, 55), (300, 360), (700, 650)])
def test_mcnemar_exact_equals_scipy_binomial_test(b, c):
    expected = 1.0 if b + c == 0 else scipy_stats.binomtest(b, b + c, 0.5).pvalue
    assert M.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_chosen_thresholds_meet_both_targets_with_and_without_margin():
    y, p = _data(9, n=400)
    plain = M.choose_thresholds(y, p, None, margin=False)
    t_s, t_d = plain["suspicious"], plain["definite"]
    assert M.at_threshold(y, p, t_s)["sensitivity"] >= 0.95
    assert M.at_threshold(y, p, np.nextafter(t_s, 2))["sensitivity"] < 0.95  # the highest such threshold
    assert M.at_threshold(y, p, t_d)["specificity"] >= 0.90
    margin = M.choose_thresholds(y, p, np.arange(400) // 4)
    assert margin["suspicious"] <= t_s and margin["definite"] >= t_d  # the margin only ever makes them safer
