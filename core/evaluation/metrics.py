"""Evaluation metrics in numpy: ROC/PR curves and areas, operating points and THE rule that picks the
card's two thresholds (``choose_thresholds``, with or without the margin rule), calibration (Brier, ECE, temperature fitting),
cluster-bootstrap 95% intervals (single and paired), and McNemar's exact test. No scikit-learn, no
torch: used by training (``core.training.report``) and by the clinic's own performance, calibration
and model comparison (``core.evaluation``), which the app bundle carries.

Conventions: ``y`` is 0/1 (1 = fracture), ``p`` a score where higher means more likely fractured; an
image is *flagged* at threshold ``t`` when ``p >= t``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def _yp(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(int).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError("y and p differ in length")
    return y, p


def _rankdata(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties get the mean rank."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    ranks = np.empty(len(a), dtype=np.float64)
    boundaries = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(a)]])
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def roc_auc(y, p) -> float:
    """Area under the ROC curve (Mann–Whitney, ties count one half); NaN when one class is absent."""
    y, p = _yp(y, p)
    npos, nneg = int(y.sum()), int(len(y) - y.sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    r = _rankdata(p)
    return float((r[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def roc_curve(y, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), thresholds descending, starting at (0, 0) for +inf."""
    y, p = _yp(y, p)
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    npos, nneg = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    return np.r_[0.0, fp / nneg], np.r_[0.0, tp / npos], np.r_[np.inf, ps[last]]


def pr_curve(y, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) at each distinct score, thresholds descending."""
    y, p = _yp(y, p)
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tp = np.cumsum(ys)[last]
    precision = tp / (last + 1)
    recall = tp / max(int(y.sum()), 1)
    return precision, recall, ps[last]


def average_precision(y, p) -> float:
    """AP = Σ (R_n − R_{n−1}) P_n (step-wise, no interpolation); NaN without positives."""
    y, _ = _yp(y, p)
    if y.sum() == 0:
        return float("nan")
    precision, recall, _ = pr_curve(y, p)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def threshold_for_sensitivity(y, p, target: float = 0.95) -> float:
    """Highest threshold whose sensitivity is ≥ ``target`` (flag when p ≥ threshold)."""
    y, p = _yp(y, p)
    pos = np.sort(p[y == 1])[::-1]
    if len(pos) == 0:
        return float("nan")
    need = int(np.ceil(target * len(pos) - 1e-9))
    return float(pos[max(need, 1) - 1])


def threshold_for_specificity(y, p, target: float = 0.90) -> float:
    """Lowest threshold whose specificity is ≥ ``target`` (negatives strictly below it)."""
    y, p = _yp(y, p)
    neg = np.sort(p[y == 0])
    if len(neg) == 0:
        return float("nan")
    need = int(np.ceil(target * len(neg) - 1e-9))
    if need <= 0:
        return float(neg[0])
    t = neg[need - 1]
    return float(np.nextafter(t, np.inf))


SENSITIVITY_TARGET = 0.95  # 'suspicious': the highest threshold that still catches this share of fractures
SPECIFICITY_TARGET = 0.90  # 'definite': the lowest threshold that still clears this share of non-fractures


def choose_thresholds(y, p_cal, groups, *, margin: bool = True) -> dict:
    """The two operating points: 'suspicious' (sensitivity ≥ 0.95) and 'definite' (specificity ≥ 0.90),
    with the margin rule ``MARGIN_RULE`` (default) or exactly at the targets (``margin=False``,
    the 1.0.0 rule). The one place thresholds are chosen, for the card (``core.training.report``) and
    for a clinic's recalibration (``core.evaluation.calibration``)."""
    if margin:
        return {"suspicious": threshold_with_margin(y, p_cal, groups, target=SENSITIVITY_TARGET, kind="sensitivity"),
                "definite": threshold_with_margin(y, p_cal, groups, target=SPECIFICITY_TARGET, kind="specificity"),
                "rule": MARGIN_RULE}
    return {"suspicious": threshold_for_sensitivity(y, p_cal, SENSITIVITY_TARGET),
            "definite": threshold_for_specificity(y, p_cal, SPECIFICITY_TARGET),
            "rule": "highest threshold with sensitivity ≥ 0.95; lowest with specificity ≥ 0.90 (no margin)"}


def at_threshold(y, p, t: float) -> dict[str, float]:
    """Sensitivity, specificity, PPV, NPV and the flagged share when flagging p ≥ t."""
    y, p = _yp(y, p)
    flag = p >= t
    tp, fp = int((flag & (y == 1)).sum()), int((flag & (y == 0)).sum())
    fn, tn = int((~flag & (y == 1)).sum()), int((~flag & (y == 0)).sum())
    div = lambda a, b: float(a / b) if b else float("nan")  # noqa: E731
    return {"threshold": float(t), "sensitivity": div(tp, tp + fn), "specificity": div(tn, tn + fp),
            "ppv": div(tp, tp + fp), "npv": div(tn, tn + fn), "flagged_share": div(tp + fp, len(y))}


def spec_at_sensitivity(y, p, target: float = 0.95) -> float:
    return at_threshold(y, p, threshold_for_sensitivity(y, p, target))["specificity"]


def deferrable_share(y, p, target: float = 0.95) -> float:
    """Share of the whole worklist below the threshold that still catches ``target`` of the fractures:
    what a reader could leave for later when reading in probability order."""
    y, p = _yp(y, p)
    return float(np.mean(p < threshold_for_sensitivity(y, p, target)))


def brier(y, p) -> float:
    y, p = _yp(y, p)
    return float(np.mean((p - y) ** 2))


def ece(y, p, bins: int = 10) -> float:
    """Expected calibration error: equal-width probability bins, weighted |mean p − observed rate|."""
    y, p = _yp(y, p)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(total)


def reliability(y, p, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean predicted, observed rate, count) per non-empty equal-width bin (calibration plot)."""
    y, p = _yp(y, p)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    rows = [(p[idx == b].mean(), y[idx == b].mean(), int((idx == b).sum())) for b in range(bins) if (idx == b).any()]
    a = np.asarray(rows, dtype=float).reshape(-1, 3)
    return a[:, 0], a[:, 1], a[:, 2].astype(int)


def sigmoid(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


def nll(y, logits) -> float:
    y, z = _yp(y, logits)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(y, logits, lo: float = 0.05, hi: float = 20.0) -> float:
    """Temperature T > 0 minimising the log-loss of sigmoid(logits / T) (golden-section on log T)."""
    y, z = _yp(y, logits)
    f = lambda lt: nll(y, z / np.exp(lt))  # noqa: E731
    a, b = np.log(lo), np.log(hi)
    gr = (np.sqrt(5) - 1) / 2
    c, d = b - gr * (b - a), a + gr * (b - a)
    for _ in range(80):
        if f(c) < f(d):
            b = d
        else:
            a = c
        c, d = b - gr * (b - a), a + gr * (b - a)
    return float(np.exp((a + b) / 2))


def bootstrap_indices(groups, n_samples: int, n: int = 1000, seed: int = 0):
    """Yield ``n`` index arrays, each a resample of whole groups with replacement (``groups`` None:
    single samples). The one resampling scheme behind every interval here."""
    g = np.arange(n_samples) if groups is None else np.asarray(groups)
    if len(g) != n_samples:
        raise ValueError("groups and scores differ in length")
    uniq, inv = np.unique(g, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=len(uniq))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rng = np.random.default_rng(seed)
    for _ in range(n):
        pick = rng.integers(0, len(uniq), len(uniq))
        lens = counts[pick]
        # concatenated members of the picked groups, without a Python loop over groups
        offs = np.repeat(starts[pick] - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
        yield order[offs]


def _interval(point: float, vals: list, alpha: float) -> tuple[float, float, float]:
    if not vals:
        return point, float("nan"), float("nan")
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return point, float(lo), float(hi)


def bootstrap_ci(stat: Callable[[np.ndarray, np.ndarray], float], y, p, groups=None, n: int = 1000,
                 seed: int = 0, alpha: float = 0.05) -> tuple[float, float, float]:
    """(point estimate, low, high): percentile interval from resampling whole groups (patients / id
    blocks) with replacement, or single samples when ``groups`` is None."""
    y, p = _yp(y, p)
    point = float(stat(y, p))
    vals = []
    for idx in bootstrap_indices(groups, len(y), n, seed):
        v = stat(y[idx], p[idx])
        if np.isfinite(v):
            vals.append(v)
    return _interval(point, vals, alpha)


def _round(a: float, digits: int = 4) -> float | None:
    return None if not np.isfinite(a) else round(float(a), digits)


def estimate(stat: Callable[[np.ndarray, np.ndarray], float], y, p, groups=None, n: int = 1000,
             seed: int = 0) -> dict:
    """``{"value": v, "ci95": [lo, hi]}`` (rounded, None where undefined): how the card and the
    clinic's reports write a figure with its bootstrap interval."""
    v, lo, hi = bootstrap_ci(stat, y, p, groups, n=n, seed=seed)
    return {"value": _round(v), "ci95": [_round(lo), _round(hi)]}


def paired_bootstrap_ci(stat: Callable[[np.ndarray, np.ndarray], float], y, p_a, p_b, groups=None,
                        n: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float, float]:
    """Interval of ``stat(y, p_a) − stat(y, p_b)`` where both models are scored on the SAME resample
    each time (the images are shared, so their errors are correlated)."""
    y, p_a = _yp(y, p_a)
    _, p_b = _yp(y, p_b)
    point = float(stat(y, p_a) - stat(y, p_b))
    vals = []
    for idx in bootstrap_indices(groups, len(y), n, seed):
        v = stat(y[idx], p_a[idx]) - stat(y[idx], p_b[idx])
        if np.isfinite(v):
            vals.append(v)
    return _interval(point, vals, alpha)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (cases where only A, or only B, is
    right — or flags): a binomial test of ``a_only`` out of ``a_only + b_only`` against one half."""
    a_only, b_only = int(a_only), int(b_only)
    if a_only < 0 or b_only < 0:
        raise ValueError("discordant counts cannot be negative")
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return float(min(1.0, 2.0 * math.exp(math.log(tail) - n * math.log(2.0))))


MARGIN_RULE = ("'suspicious': the highest threshold at which the lower bound of the 95% bootstrap interval "
               "(resampling whole groups, threshold held fixed) of the sensitivity is still ≥ the target "
               "(0.95); 'definite': the lowest threshold at which the lower bound of the specificity's "
               "interval is still ≥ its target (0.90)")


def _group_weights(groups, n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) multiplicity of each sample in group-bootstrap resamples."""
    g = np.arange(n) if groups is None else np.asarray(groups)
    uniq, inv = np.unique(g, return_inverse=True)
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, len(uniq), len(uniq)), minlength=len(uniq))
                       for _ in range(n_boot)])
    return counts[:, inv].astype(np.float64)


def threshold_with_margin(y, p, groups=None, *, target: float, kind: str, n_boot: int = 1000, seed: int = 0,
                          alpha: float = 0.05) -> float:
    """Operating point that keeps ``target`` with margin (``MARGIN_RULE``).

    ``kind="sensitivity"``: the highest threshold t (flag p ≥ t) whose sensitivity's lower bound — the
    ``alpha/2`` quantile over group-bootstrap resamples — is ≥ ``target``; ``kind="specificity"``: the
    lowest threshold whose specificity's lower bound is ≥ ``target``. Falls back to the plain
    threshold for ``target`` when no candidate reaches it (tiny samples)."""
    y, p = _yp(y, p)
    w = _group_weights(groups, len(y), n_boot, seed)
    if kind == "sensitivity":
        idx = np.flatnonzero(y == 1)
        if len(idx) == 0:
            return float("nan")
        order = idx[np.argsort(-p[idx], kind="stable")]  # candidates: positive scores, high → low
        cum = np.cumsum(w[:, order], axis=1) / np.maximum(w[:, idx].sum(1, keepdims=True), 1e-12)
        lower = np.quantile(cum, alpha / 2, axis=0)  # sensitivity lower bound when t = p[order[j]]
        vals = p[order]
        ok = np.flatnonzero(lower >= target - 1e-12)
        if len(ok) == 0:
            return float(vals[-1])
        j = ok[0]
        while j + 1 < len(vals) and vals[j + 1] == vals[j]:  # ties: the threshold includes them all
            j += 1
        return float(vals[j])
    if kind == "specificity":
        idx = np.flatnonzero(y == 0)
        if len(idx) == 0:
            return float("nan")
        order = idx[np.argsort(p[idx], kind="stable")]  # negatives low → high; t just above p[order[j]]
        cum = np.cumsum(w[:, order], axis=1) / np.maximum(w[:, idx].sum(1, keepdims=True), 1e-12)
        lower = np.quantile(cum, alpha / 2, axis=0)
        vals = p[order]
        ok = np.flatnonzero(lower >= target - 1e-12)
        if len(ok) == 0:
            return float(np.nextafter(vals[-1], np.inf))
        j = ok[0]
        while j + 1 < len(vals) and vals[j + 1] == vals[j]:
            j += 1
        return float(np.nextafter(vals[j], np.inf))
    raise ValueError(f"unknown kind {kind!r}")
