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


def _card(version, auc, *, comparison=(), tried=(), scope=None):
    card = {"name": "triagenet", "version": version, "sha256": "cd" * 32, "intended_use": INTENDED_USE,
            "data_credit": DATA_CREDIT, "input": {"name": "image", "size": 256, "preprocessing": "letterbox-grey-v1"},
            "outputs": outputs_spec(256),
            "evaluation": {"out_of_fold": {"roc_auc": {"value": auc, "ci95": [auc - 0.02, auc + 0.02]},
                                           "suspicious": {"flagged_share": 0.7},
                                           "subgroups": {"shoulder": {"n": 285, "fractured": 53,
                                                                      "roc_auc": {"value": auc - 0.1}}}},
                           "comparison": list(comparison)},
            "training": {"data": {"data_key": "k"}, "what_was_tried": list(tried)}}
    if scope is not None:
        card["scope"] = scope
    return card


def _write(tmp_path, card):
    import json as _json

    path = tmp_path / f"{card['name']}-{card['version']}.json"
    path.write_text(_json.dumps(card), encoding="utf-8")
    return path


def test_comparison_rows_carry_each_earlier_cards_own_rows_once():
    from core.training.card import card_row, comparison_rows, tried_notes

    first = _card("1.0.0", 0.83, tried=["gap head"])
    second = _card("2.0.0", 0.82, comparison=[card_row(first)], tried=["gap head", "box loss"])
    rows = comparison_rows([second, first])
    assert [r["model"] for r in rows] == ["triagenet-1.0.0", "triagenet-2.0.0"]  # 1.0.0 once, from 2.0.0's table
    assert rows[1]["roc_auc"]["value"] == 0.82 and rows[1]["subgroup_auc"]["shoulder"] == 0.82 - 0.1
    assert [r["model"] for r in comparison_rows([second], skip="triagenet-2.0.0")] == ["triagenet-1.0.0"]
    assert tried_notes([second, first], ["own"], ["new"]) == ["gap head", "box loss", "own", "new"]


def test_amend_adds_rows_and_notes_and_renders_the_markdown_again(tmp_path):
    import json as _json

    from core.training.card import amend, card_row

    old = _card("1.0.0", 0.83, tried=["1.0.0's run"])
    mid = _card("3.1.0", 0.906, comparison=[card_row(old)], tried=["a third top: not shipped"])
    shipped = _card("3.2.0", 0.904, comparison=[card_row(_card("3.1.0", 0.906)), card_row(_card("0.9.0", 0.7))],
                    tried=["int8 re-run"], scope={"content": None})
    shipped["inference"] = {"ms_per_image": 4.2, "machine": "AMD EPYC", "machine_note": "13.1 ms without VNNI"}
    p_mid, p_ship = _write(tmp_path, mid), _write(tmp_path, shipped)
    (tmp_path / "triagenet-3.2.0-roc.png").write_bytes(b"png")
    md = amend(p_ship, [p_mid], ["320 px: not shipped"])
    card = _json.loads(p_ship.read_text(encoding="utf-8"))
    assert [r["model"] for r in card["evaluation"]["comparison"]] == ["triagenet-1.0.0", "triagenet-3.1.0",
                                                                      "triagenet-0.9.0"]  # its own rows kept
    assert card["training"]["what_was_tried"] == ["a third top: not shipped", "int8 re-run", "320 px: not shipped"]
    assert card["sha256"] == "cd" * 32  # the model file is not touched
    text = md.read_text(encoding="utf-8")
    assert md == tmp_path / "MODEL_CARD.md" and "# Model card: triagenet 3.2.0" in text
    for s in ("| triagenet-1.0.0 | 0.830 (0.810–0.850)", "| triagenet-3.1.0 |", "320 px: not shipped",
              "![ROC](triagenet-3.2.0-roc.png)", "## Scope gate", "AMD EPYC: 13.1 ms without VNNI)"):
        assert s in text
    assert "pr.png" not in text  # no such plot beside the card
    amend(p_ship, [p_mid], ["320 px: not shipped"])  # again: nothing doubled
    again = _json.loads(p_ship.read_text(encoding="utf-8"))
    assert again["evaluation"]["comparison"] == card["evaluation"]["comparison"]
    assert again["training"]["what_was_tried"] == card["training"]["what_was_tried"]


def test_card_command_says_which_card_it_cannot_read(tmp_path, capsys):
    from core.cli import main

    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    good = _write(tmp_path, _card("3.2.0", 0.9))
    assert main(["card", str(good), "--compare", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.json: not a readable model card" in err and "Traceback" not in err
    assert main(["card", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["card", str(good), "--note", "tried x"]) == 0
    assert "tried x" in (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")
