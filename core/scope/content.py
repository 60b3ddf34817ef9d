"""The content gate: how far an image's model embedding lies from the training images' embeddings.

Pure numpy; fitted by the training pipeline (``fit_content_gate``), stored in the model card as
``card["scope"]["content"]`` and applied at scan time (``content_distance`` / ``content_out_of_scope``).

Method (``pca-mahalanobis-v1``, probabilistic PCA): embeddings are centred on the training mean and
projected on the top ``k`` principal directions (k ≤ 64, at least 99% of the variance, whichever is
smaller); the squared distance is the Mahalanobis distance in those directions plus the residual
(what the directions do not explain) divided by the mean residual variance; the reported distance
is the square root of that divided by the embedding dimension, so it is comparable across models of
any width. Shrinkage (a small share of the mean variance added to every eigenvalue) keeps tiny
eigenvalues from dominating.

The threshold is chosen out of fold: for each cross-validation fold the statistics are fitted on the
fold's training embeddings (from that fold's model) and distances are measured for its validation
embeddings; the pooled out-of-fold distances are those of in-scope images the model (and the gate)
never saw, so the threshold is the smallest value that gates at most ``max_gated`` of them. The
statistics stored for scan time are fitted on the final model's training embeddings, and the OOF
threshold applies to them because the distance is whitened (scale-free) per model.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

METHOD = "pca-mahalanobis-v1"
MAX_COMPONENTS = 64
VARIANCE_KEPT = 0.99
SHRINKAGE = 0.01
MIN_IMAGES = 20


class ContentGateError(ValueError):
    """The embeddings or the card section cannot be used (wrong shape, too few images, not finite)."""


def _as_matrix(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ContentGateError(f"{what}: expected a 2-D array (images, features), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ContentGateError(f"{what}: embeddings contain NaN or infinite values")
    return a


def fit_statistics(train: np.ndarray, *, max_components: int = MAX_COMPONENTS,
                   variance_kept: float = VARIANCE_KEPT, shrinkage: float = SHRINKAGE) -> dict:
    """Mean, principal directions, their variances and the residual variance of ``train`` (N, D)."""
    x = _as_matrix(train, "training embeddings")
    n, d = x.shape
    if n < MIN_IMAGES:
        raise ContentGateError(f"training embeddings: {n} images; at least {MIN_IMAGES} are needed to fit the gate")
    mean = x.mean(axis=0)
    xc = x - mean
    # SVD of the centred data: rows of vt are the principal directions, s**2/(n-1) their variances
    _u, s, vt = np.linalg.svd(xc, full_matrices=False)
    var = s**2 / max(n - 1, 1)
    total = float(var.sum())
    if total <= 0.0:
        raise ContentGateError("training embeddings are all identical; the gate cannot be fitted")
    cum = np.cumsum(var) / total
    k = int(min(max_components, len(var), np.searchsorted(cum, variance_kept) + 1))
    k = max(1, min(k, d - 1)) if d > 1 else 1
    floor = shrinkage * total / d
    eig = var[:k] + floor
    rest = var[k:]
    # mean variance per remaining dimension (dimensions beyond n-1 have zero sample variance)
    resid_dims = max(d - k, 1)
    resid_var = float(rest.sum()) / resid_dims + floor
    return {
        "mean": mean,
        "components": vt[:k],
        "variances": eig,
        "residual_variance": resid_var,
    }


def _distances(x: np.ndarray, stats: dict) -> np.ndarray:
    mean = np.asarray(stats["mean"], dtype=np.float64)
    comps = np.asarray(stats["components"], dtype=np.float64)
    var = np.asarray(stats["variances"], dtype=np.float64)
    resid_var = float(stats["residual_variance"])
    d = mean.shape[0]
    if x.shape[1] != d:
        raise ContentGateError(f"embeddings have {x.shape[1]} features; the gate was fitted on {d}")
    xc = x - mean
    proj = xc @ comps.T
    inside = (proj**2 / var).sum(axis=1)
    resid = np.maximum((xc**2).sum(axis=1) - (proj**2).sum(axis=1), 0.0)
    return np.sqrt((inside + resid / resid_var) / d)


def threshold_for(distances: np.ndarray, max_gated: float) -> float:
    """The smallest threshold t such that the share of ``distances`` > t is at most ``max_gated``."""
    d = np.sort(np.asarray(distances, dtype=np.float64))
    n = d.shape[0]
    if n == 0:
        raise ContentGateError("no out-of-fold distances to choose a threshold from")
    allowed = int(math.floor(max_gated * n + 1e-9))  # images that may lie above the threshold
    return float(d[n - 1 - allowed]) if allowed < n else float(d[0])


def fit_content_gate(fold_train_embeddings: Sequence[np.ndarray], fold_val_embeddings: Sequence[np.ndarray],
                     final_train_embeddings: np.ndarray, max_gated: float = 0.02) -> dict:
    """Fit the content gate; returns the JSON-serialisable ``card["scope"]["content"]`` section.

    ``fold_train_embeddings[i]`` / ``fold_val_embeddings[i]``: embeddings of fold i's training and
    validation images, both from fold i's model. ``final_train_embeddings``: the shipped model's
    embeddings of all its training images. ``max_gated``: the largest share of out-of-fold in-scope
    images the gate may call out of scope (the threshold is set there)."""
    if len(fold_train_embeddings) != len(fold_val_embeddings) or not fold_train_embeddings:
        raise ContentGateError("need one training and one validation embedding array per fold (at least one fold)")
    if not 0.0 <= float(max_gated) < 1.0:
        raise ContentGateError(f"max_gated must be in [0, 1), got {max_gated}")
    oof: list[np.ndarray] = []
    per_fold: list[dict] = []
    for i, (tr, va) in enumerate(zip(fold_train_embeddings, fold_val_embeddings)):
        stats = fit_statistics(_as_matrix(tr, f"fold {i} training embeddings"))
        dist = _distances(_as_matrix(va, f"fold {i} validation embeddings"), stats)
        oof.append(dist)
        per_fold.append({"fold": i, "train": int(np.asarray(tr).shape[0]), "validation": int(dist.shape[0])})
    pooled = np.concatenate(oof)
    threshold = threshold_for(pooled, max_gated)
    for entry, dist in zip(per_fold, oof):
        entry["gated"] = round(float((dist > threshold).mean()), 4)
    final = fit_statistics(_as_matrix(final_train_embeddings, "final training embeddings"))
    final_train_gated = float((_distances(_as_matrix(final_train_embeddings, "final"), final) > threshold).mean())
    return {
        "method": METHOD,
        "dim": int(final["mean"].shape[0]),
        "components": int(final["components"].shape[0]),
        "mean": _floats(final["mean"]),
        "directions": [_floats(row) for row in final["components"]],
        "variances": _floats(final["variances"]),
        "residual_variance": float(final["residual_variance"]),
        "threshold": round(threshold, 6),
        "max_gated": float(max_gated),
        "oof_images": int(pooled.shape[0]),
        "oof_gated": round(float((pooled > threshold).mean()), 4),
        "oof_distance_quantiles": {q: round(float(np.quantile(pooled, float(q))), 4)
                                   for q in ("0.5", "0.9", "0.98", "0.99")},
        "folds": per_fold,
        "final_train_images": int(np.asarray(final_train_embeddings).shape[0]),
        "final_train_gated": round(final_train_gated, 4),
    }


def _floats(a: np.ndarray) -> list[float]:
    return [float(f"{v:.7g}") for v in np.asarray(a, dtype=np.float64).ravel()]


def load_section(section: Any) -> dict:
    """Validate a card's ``scope.content`` section; returns arrays ready for ``content_distance``."""
    if not isinstance(section, dict):
        raise ContentGateError("scope.content must be an object")
    if section.get("method") != METHOD:
        raise ContentGateError(f"scope.content method {section.get('method')!r} is not {METHOD!r}")
    try:
        mean = np.asarray(section["mean"], dtype=np.float64)
        comps = np.asarray(section["directions"], dtype=np.float64)
        var = np.asarray(section["variances"], dtype=np.float64)
        resid = float(section["residual_variance"])
        threshold = float(section["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ContentGateError(f"scope.content is incomplete or malformed ({exc})") from None
    d = mean.shape[0] if mean.ndim == 1 else -1
    if d <= 0 or comps.ndim != 2 or comps.shape[1] != d or var.shape != (comps.shape[0],):
        raise ContentGateError("scope.content: mean, directions and variances do not fit together")
    if not (np.isfinite(mean).all() and np.isfinite(comps).all() and (var > 0).all() and resid > 0
            and math.isfinite(threshold)):
        raise ContentGateError("scope.content holds non-finite or non-positive statistics")
    return {"mean": mean, "components": comps, "variances": var, "residual_variance": resid,
            "threshold": threshold, "dim": d}


def content_distance(embeddings: np.ndarray, section: dict) -> np.ndarray:
    """Distance of each embedding (N, D) to the training embeddings; ``section`` is the card section
    (raw, as in the card) or what ``load_section`` returned."""
    stats = section if isinstance(section.get("mean"), np.ndarray) else load_section(section)
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ContentGateError(f"embeddings must be (N, D), got shape {x.shape}")
    out = np.full(x.shape[0], np.inf)
    finite = np.isfinite(x).all(axis=1)
    if finite.any():
        out[finite] = _distances(x[finite], stats)
    return out  # a non-finite embedding is as far as it gets: never silently in scope


def content_out_of_scope(distances: np.ndarray, section: dict) -> np.ndarray:
    """True where the distance is above the section's threshold."""
    threshold = float(section["threshold"])
    return np.asarray(distances, dtype=np.float64) > threshold
