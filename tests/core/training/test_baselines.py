"""Majority and metadata-only baselines."""

import numpy as np

from core.evaluation import metrics as M
from core.training.baselines import fit_logistic, majority_scores, metadata_oof
from core.training.data import META_COLUMNS


def test_majority_is_constant():
    s = majority_scores([0, 0, 1, 0])
    assert np.all(s == 0.25) and M.roc_auc([0, 0, 1, 0], s) == 0.5


def test_metadata_logistic_learns_hardware_shortcut():
    rng = np.random.default_rng(0)
    n = 600
    meta = {c: (rng.random(n) < 0.3).astype(float) for c in META_COLUMNS}
    y = ((meta["hardware"] == 1) | (rng.random(n) < 0.1)).astype(int)
    fold = np.arange(n) % 3
    oof = metadata_oof(meta, y, fold)
    assert M.roc_auc(y, oof) > 0.85
    w = fit_logistic(np.stack([meta["hardware"]], 1), y.astype(float))
    assert w[1] > 2


def test_metadata_missing_gives_none():
    assert metadata_oof({}, [0, 1], [0, 1]) is None
