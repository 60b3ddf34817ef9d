"""MODEL_CARD.md rendering from a card dict."""

from core.training.card import DATA_CREDIT, INTENDED_USE, outputs_spec, render_markdown


def test_render_contains_essentials():
    card = {"name": "n", "version": "1", "sha256": "ab" * 32, "intended_use": INTENDED_USE, "data_credit": DATA_CREDIT,
            "input": {"name": "image", "size": 256, "preprocessing": "letterbox-grey-v1"}, "outputs": outputs_spec(256),
            "evaluation": {"out_of_fold": {"roc_auc": {"value": 0.8, "ci95": [0.7, 0.9]},
                                        "suspicious": {"threshold": 0.1, "sensitivity": {"value": 0.95, "ci95": [0.9, 0.99]},
                                                       "specificity": {"value": 0.3, "ci95": [0.2, 0.4]}}},
                        "baselines": {"majority": {"label": "majority", "roc_auc": {"value": 0.5, "ci95": [0.5, 0.5]},
                                                   "accuracy": 0.83}}},
            "training": {"what_was_tried": ["one thing"]}, "limitations": ["x"]}
    md = render_markdown(card, {"roc": "r.png"})
    for text in ("0.800 (0.700–0.900)", "Abedeen", "CC BY 4.0", "not a diagnosis", "children", "![ROC](r.png)",
                 "one thing", "0.83"):
        assert text in md
    assert outputs_spec(256)[1]["shape"] == ["N", 8, 8]


def test_seed_baseline_is_taken_only_from_a_card_of_the_same_data_and_folds(tmp_path):
    import json as _json

    import pytest as _pytest

    from core.training.pipeline import TrainError, seed_baseline_from

    card = {"name": "triagenet", "version": "2.0.0",
            "evaluation": {"protocol": "grouped stratified 5-fold cross-validation (groups: ...)",
                           "baselines": {"seed_cnn": {"label": "seed CNN (8 epochs)", "roc_auc": {"value": 0.78}}}},
            "training": {"data": {"data_key": "abc"}, "split_seed": 0, "recipe": {"name": "triagenet"}}}
    path = tmp_path / "old.json"
    path.write_text(_json.dumps(card))
    row = seed_baseline_from(path, "abc", 5, 0)
    assert row["roc_auc"]["value"] == 0.78 and "from the triagenet 2.0.0 card" in row["label"]
    assert "not re-run" in row["label"]
    for key, folds, split in (("other", 5, 0), ("abc", 3, 0), ("abc", 5, 1)):
        with _pytest.raises(TrainError, match="other data or folds"):
            seed_baseline_from(path, key, folds, split)
    path.write_text("{}")
    with _pytest.raises(TrainError, match="no seed-CNN baseline"):
        seed_baseline_from(path, "abc", 5, 0)
