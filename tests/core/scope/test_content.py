"""The content gate: fitting out of fold, the chosen threshold, the card section and distances."""

import json

import numpy as np
import pytest

from core.scope import Gate
from core.scope.content import (
    ContentGateError,
    content_distance,
    content_out_of_scope,
    fit_content_gate,
    load_section,
    threshold_for,
)
from core.scope.verdict import IN, OUT_OF_SCOPE, TAGS_IN


def clusters(seed=0, n=600, d=24):
    basis = np.random.default_rng(123).normal(size=(6, d))  # one distribution; seed picks the sample
    rng = np.random.default_rng(seed)
    inlier = rng.normal(size=(n, 6)) @ basis + 0.3 * rng.normal(size=(n, d)) + 5.0
    outlier = rng.normal(size=(200, d)) * 3.0 - 4.0
    return inlier, outlier


def fit(inlier, max_gated=0.02, folds=5):
    idx = np.arange(len(inlier)) % folds
    tr = [inlier[idx != k] for k in range(folds)]
    va = [inlier[idx == k] for k in range(folds)]
    return fit_content_gate(tr, va, inlier, max_gated=max_gated)


def test_threshold_keeps_the_promised_share():
    d = np.arange(100, dtype=float)
    t = threshold_for(d, 0.02)
    assert (d > t).mean() <= 0.02 and (d > t - 1).mean() > 0.02
    assert threshold_for(d, 0.0) == 99.0


def test_fit_gates_few_inliers_and_most_outliers():
    inlier, outlier = clusters()
    section = fit(inlier)
    assert section["oof_gated"] <= 0.02
    assert json.loads(json.dumps(section)) == section  # JSON-serialisable as it is
    fresh, _ = clusters(seed=1)
    # a new sample from the same distribution: about the promised share gated (not in-sample optimism)
    gated_fresh = content_out_of_scope(content_distance(fresh, section), section).mean()
    assert gated_fresh <= 0.06
    assert content_out_of_scope(content_distance(outlier, section), section).mean() >= 0.95


def test_section_round_trip_and_validation():
    inlier, _ = clusters()
    section = fit(inlier)
    stats = load_section(section)
    assert np.allclose(content_distance(inlier[:5], stats), content_distance(inlier[:5], section))
    with pytest.raises(ContentGateError, match="features"):
        content_distance(np.zeros((2, 3)), section)
    for broken in ({**section, "method": "other"}, {**section, "variances": [0.0] * section["components"]},
                   {k: v for k, v in section.items() if k != "mean"}, "not a dict"):
        with pytest.raises(ContentGateError):
            load_section(broken)


def test_non_finite_embedding_is_far():
    inlier, _ = clusters()
    section = fit(inlier)
    x = inlier[:2].copy()
    x[1, 0] = np.nan
    d = content_distance(x, section)
    assert np.isfinite(d[0]) and np.isinf(d[1])


def test_bad_inputs():
    inlier, _ = clusters()
    with pytest.raises(ContentGateError, match="at least"):
        fit_content_gate([inlier[:5]], [inlier[5:10]], inlier)
    with pytest.raises(ContentGateError, match="per fold"):
        fit_content_gate([inlier], [], inlier)
    with pytest.raises(ContentGateError, match="NaN"):
        fit_content_gate([np.full((30, 4), np.nan)], [inlier[:3, :4]], inlier[:, :4])
    with pytest.raises(ContentGateError, match="max_gated"):
        fit(inlier, max_gated=1.5)


def test_gate_combines_content_with_tags():
    inlier, outlier = clusters()
    section = fit(inlier)
    gate = Gate(section)
    far = float(gate.distances(outlier[:1])[0])
    near = float(gate.distances(inlier[:1])[0])
    assert gate.finish(IN, far).scope == OUT_OF_SCOPE
    assert gate.finish(IN, near).scope == "in_scope" and gate.finish(IN, near).distance == pytest.approx(near)
    assert gate.finish(TAGS_IN, far).scope == "in_scope"  # a radiograph of a hand by its tags stays in
    assert Gate(None).finish(IN, far) is IN and not Gate(None).has_content
    assert "no content" in Gate(None).describe()


def test_model_card_lines_state_the_fitted_figures():
    from core.scope import model_card_lines

    inlier, _ = clusters()
    section = fit(inlier)
    text = "\n".join(model_card_lines(section))
    assert "## Scope gate" in text and f"{section['oof_gated']:.1%}" in text and "Not caught" in text
    assert "No content statistics" in "\n".join(model_card_lines(None))
