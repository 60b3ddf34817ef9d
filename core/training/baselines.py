"""Reference points a model must beat, under the same folds (numpy only):

* majority class: a constant score (every image "not fractured"); its accuracy is the share of
  non-fractured images, its AUC 0.5 — what a headline accuracy should be compared with;
* metadata only: L2-regularised logistic regression on FracAtlas's body part (hand, leg, hip, shoulder,
  mixed), hardware and view (frontal, lateral, oblique, multiscan) columns, fitted per training fold.
"""

from __future__ import annotations

import numpy as np

from core.training.data import META_COLUMNS


def majority_scores(labels) -> np.ndarray:
    y = np.asarray(labels)
    return np.full(len(y), float(y.mean()))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 50) -> np.ndarray:
    """Newton–Raphson (IRLS) for logistic regression with an intercept; returns weights (d+1,)."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(xb.shape[1])
    reg[0, 0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def metadata_matrix(meta: dict[str, np.ndarray]) -> np.ndarray | None:
    cols = [c for c in META_COLUMNS if c in meta]
    if not cols:
        return None
    x = np.stack([meta[c] for c in cols], 1).astype(float)
    if np.isnan(x).any():
        return None
    return x


def metadata_oof(meta: dict[str, np.ndarray], labels, fold) -> np.ndarray | None:
    """Out-of-fold logits of the metadata-only model, or None without complete metadata."""
    x = metadata_matrix(meta)
    if x is None:
        return None
    y = np.asarray(labels).astype(float)
    fold = np.asarray(fold)
    out = np.zeros(len(y))
    for f in np.unique(fold):
        tr, va = fold != f, fold == f
        w = fit_logistic(x[tr], y[tr])
        out[va] = w[0] + x[va] @ w[1:]
    return out
