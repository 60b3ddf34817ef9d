"""Grouped, stratified k-fold splitting (numpy only).

Every group (FracAtlas: a block of ten consecutive image ids, ``id // 10``, because neighbouring ids are
often views of one patient) lands wholly in one fold; folds are balanced for the positive rate and size
greedily, largest/most-positive groups first, in the spirit of scikit-learn's StratifiedGroupKFold.
"""

from __future__ import annotations

import numpy as np


def stratified_group_kfold(labels, groups, k: int = 5, seed: int = 0) -> np.ndarray:
    """Return ``fold`` (int array, one entry per sample, values 0..k-1).

    No group is split across folds; per-fold positive and negative counts are kept as even as the
    groups allow. Deterministic for a given ``seed``.
    """
    y = np.asarray(labels).astype(int)
    g = np.asarray(groups)
    if y.shape != g.shape or y.ndim != 1:
        raise ValueError("labels and groups must be 1-D and the same length")
    uniq, inv = np.unique(g, return_inverse=True)
    if k < 2 or k > len(uniq):
        raise ValueError(f"need 2 <= k <= number of groups ({len(uniq)}), got {k}")
    counts = np.zeros((len(uniq), 2), dtype=float)
    np.add.at(counts, (inv, y), 1.0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    # groups with the most uneven class mix and the most members first (stable after the shuffle)
    spread = np.std(counts / counts.sum(1, keepdims=True), axis=1)
    order = order[np.lexsort((-counts.sum(1)[order], -spread[order]))]
    totals = counts.sum(0)
    totals[totals == 0] = 1.0
    fold_counts = np.zeros((k, 2))
    assign = np.empty(len(uniq), dtype=int)
    for gi in order:
        best, best_key = 0, None
        for f in range(k):
            trial = fold_counts.copy()
            trial[f] += counts[gi]
            cost = float(np.mean(np.std(trial / totals, axis=0)))
            key = (round(cost, 12), trial[f].sum())
            if best_key is None or key < best_key:
                best, best_key = f, key
        fold_counts[best] += counts[gi]
        assign[gi] = best
    return assign[inv]


def fracatlas_groups(image_ids) -> np.ndarray:
    """``IMG0000123.jpg`` → 12 (id // 10)."""
    out = []
    for name in image_ids:
        digits = "".join(ch for ch in str(name).split(".")[0] if ch.isdigit())
        out.append(int(digits) // 10 if digits else -1)
    return np.asarray(out, dtype=np.int64)
