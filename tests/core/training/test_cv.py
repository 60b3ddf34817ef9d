"""Grouped stratified k-fold: no group straddles folds, classes balanced, deterministic."""

import numpy as np
import pytest

from core.training.cv import fracatlas_groups, stratified_group_kfold


def test_groups_never_split_and_folds_balanced():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(120), rng.integers(1, 12, 120))
    labels = (rng.random(len(groups)) < 0.2).astype(int)
    fold = stratified_group_kfold(labels, groups, 5, seed=3)
    for g in np.unique(groups):
        assert len(set(fold[groups == g])) == 1
    pos = np.array([labels[fold == f].sum() for f in range(5)])
    size = np.array([(fold == f).sum() for f in range(5)])
    assert set(fold) == set(range(5))
    assert pos.max() - pos.min() <= max(3, 0.15 * pos.mean())
    assert size.max() - size.min() <= 0.2 * size.mean()
    assert np.array_equal(fold, stratified_group_kfold(labels, groups, 5, seed=3))


def test_rejects_too_many_folds():
    with pytest.raises(ValueError):
        stratified_group_kfold([0, 1, 0], [1, 1, 2], k=3)


def test_fracatlas_groups_are_blocks_of_ten():
    assert fracatlas_groups(["IMG0000009.jpg", "IMG0000010.jpg", "IMG0000123.jpg"]).tolist() == [0, 1, 12]
