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
