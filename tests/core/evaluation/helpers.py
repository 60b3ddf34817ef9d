"""A store filled with scored images and confirmed labels (no scan pipeline), and the card of a test
model whose version the scores are stored under."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.core.store.helpers import fake_id, item, open_test_store


def scores_and_labels(n_pos: int, n_neg: int, seed: int = 0, shift: float = 1.0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    z = rng.normal(0, 1, len(y)) + shift * y
    p = 1 / (1 + np.exp(-(z - 1.5)))
    return y, p


def labelled_store(tmp_path: Path, y, p, *, version: str = "0.0.1-test", reviewer: str = "dr a",
                   doubt: int = 0, unlabelled: int = 0, body_parts=None, name: str = "labels.db"):
    """Images 0..len(y)-1 scored ``p`` under ``version`` and decided by ``y``; then ``doubt`` images
    decided 'doubt' and ``unlabelled`` images without a decision."""
    store = open_test_store(tmp_path, name)
    root = tmp_path / "xr"
    n = len(y) + doubt + unlabelled
    probs = list(map(float, p)) + [0.5] * (doubt + unlabelled)
    items = [item(root / f"img{i:04d}.png", i, probs[i], model=version,
                  body_part=(body_parts[i] if body_parts is not None and i < len(y) else None)) for i in range(n)]
    store.record_scan_results(root, items)
    for i, lab in enumerate(y):
        store.record_decision(fake_id(i), reviewer, "fracture" if lab else "no_fracture",
                              model_version=version, probability=probs[i])
    for i in range(len(y), len(y) + doubt):
        store.record_decision(fake_id(i), reviewer, "doubt", model_version=version, probability=0.5)
    return store


def model_card(tmp_path: Path, version: str = "0.0.1-test", name: str = "testnet", **kw):
    from core.model import load_verified_card
    from tests.model_factory import write_model

    return load_verified_card(write_model(tmp_path / f"model-{name}-{version}", name=name, version=version, **kw))
