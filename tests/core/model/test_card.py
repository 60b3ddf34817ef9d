"""Model cards: parsing, validation, sha256 verification, thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.model import ModelError, Thresholds, load_card, load_verified_card
from core.model.card import card_path_for


def _rewrite_card(onnx_path: Path, **changes) -> None:
    card_file = card_path_for(onnx_path)
    raw = json.loads(card_file.read_text())
    for dotted, value in changes.items():
        target = raw
        keys = dotted.split("__")
        for k in keys[:-1]:
            target = target[k]
        if value is None:
            target.pop(keys[-1])
        else:
            target[keys[-1]] = value
    card_file.write_text(json.dumps(raw))


@pytest.fixture
def model_copy(tmp_path, test_model):
    for p in test_model.parent.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    return tmp_path / test_model.name


def test_valid_card_loads(test_model):
    card = load_verified_card(test_model)
    assert (card.name, card.version, card.input_size, card.input_name) == ("testnet", "0.0.1-test", 64, "image")
    assert card.has_cam and card.output_names == ("probability", "cam")
    assert card.thresholds == Thresholds(0.3, 0.7)
    assert card.raw["data_credit"].startswith("none")
    assert any("testnet 0.0.1-test" in line for line in card.summary_lines())


def test_missing_card(model_copy):
    card_path_for(model_copy).unlink()
    with pytest.raises(ModelError, match="card .* is missing"):
        load_verified_card(model_copy)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_verified_card(tmp_path / "nothing.onnx")


def test_sha_mismatch(model_copy):
    model_copy.write_bytes(model_copy.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="does not match its card"):
        load_verified_card(model_copy)


def test_card_not_json(model_copy):
    card_path_for(model_copy).write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_card(card_path_for(model_copy))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"input__size": None}, "missing 'input.size'"),
        ({"input__size": "64"}, "wrong type"),
        ({"input__preprocessing": "imagenet-rgb"}, "preprocessing"),
        ({"input__channels": 3}, "1-channel"),
        ({"thresholds__suspicious": 0.9}, "thresholds"),
        ({"sha256": "abc"}, "SHA-256"),
        ({"outputs": []}, "outputs"),
    ],
)
def test_invalid_cards(model_copy, change, message):
    _rewrite_card(model_copy, **change)
    with pytest.raises(ModelError, match=message):
        load_card(card_path_for(model_copy))


def test_threshold_flags():
    t = Thresholds(0.3, 0.7)
    assert [t.flag(p) for p in (0.0, 0.29, 0.3, 0.69, 0.7, 1.0)] == [None, None, "suspicious", "suspicious",
                                                                      "definite", "definite"]
    assert t.flag(None) is None and t.flag(float("nan")) is None


@pytest.mark.parametrize(
    "change, message",
    [
        ({"input__size": True}, "wrong type"),  # a bool is not a size
        ({"input__size": 5000}, "not plausible"),
        ({"input__dtype": "float16"}, "float32"),
        ({"thresholds__definite": "0.7"}, "'thresholds.definite' has the wrong type"),
        ({"thresholds__definite": 1.5}, "thresholds must satisfy"),
        ({"outputs": [{"nom": "x"}]}, "missing 'outputs.name'"),
        ({"outputs": ["probability"]}, "'outputs' must list objects"),
        ({"name": 7}, "'name' has the wrong type"),
        ({"version": None}, "missing 'version'"),
    ],
)
def test_more_invalid_cards(model_copy, change, message):
    _rewrite_card(model_copy, **change)
    with pytest.raises(ModelError, match=message):
        load_card(card_path_for(model_copy))


def test_card_not_an_object(model_copy):
    card_path_for(model_copy).write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a JSON object"):
        load_card(card_path_for(model_copy))
