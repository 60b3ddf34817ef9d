"""`fracture-triage train` / `evaluate` end to end on tiny generated data (seconds): files, card,
sha256, thresholds, fine-tuning from the shipped files, and the app's model loader accepting it."""

import importlib.util
import json

import pytest

from core.cli import main
from core.training.card import sha256_bytes


def _train(data, out, tmp_path, *extra):
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--cv-folds", "2", "--size", "64",
            "--cache", str(tmp_path / "cache"), "--version", "t1", *extra]
    assert main(args) == 0
    return out / "triagenet-t1.onnx"


def test_train_evaluate_finetune(export_dir, tmp_path, torch_mod, capsys):
    model = _train(export_dir, tmp_path / "m", tmp_path)
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["sha256"] == sha256_bytes(model.read_bytes())
    assert card["input"] == {"name": "image", "size": 64, "channels": 1, "dtype": "float32",
                             "preprocessing": "letterbox-grey-v1", "range": [0.0, 1.0], "layout": "NCHW"}
    assert [o["name"] for o in card["outputs"]] == ["probability", "cam", "embedding"]
    assert 0 < card["thresholds"]["suspicious"] <= card["thresholds"]["definite"] < 1
    assert card["inference"]["ms_per_image"] > 0 and card["training"]["onnx_torch_max_abs_diff"] <= 1e-4
    assert "Abedeen" in card["data_credit"] and "not a diagnosis" in card["intended_use"]
    assert (tmp_path / "m" / "MODEL_CARD.md").is_file()
    if importlib.util.find_spec("matplotlib") is not None:  # plots need the train extra's matplotlib
        assert (tmp_path / "m" / "triagenet-t1-roc.png").is_file()

    assert main(["evaluate", "--model", str(model), "--data", str(export_dir), "--out", str(tmp_path / "ev")]) == 0
    res = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert res["images"] == 24 and 0 <= res["roc_auc"]["value"] <= 1
    assert "ROC-AUC" in capsys.readouterr().out

    tuned = _train(export_dir, tmp_path / "m2", tmp_path, "--init", str(model))
    assert json.loads(tuned.with_suffix(".json").read_text())["training"]["init"] == str(model)


def test_train_fracatlas_layout_with_baselines(fracatlas_dir, tmp_path, torch_mod):
    model = _train(fracatlas_dir, tmp_path / "m", tmp_path, "--seed-baseline", "--seed-baseline-epochs", "1")
    card = json.loads(model.with_suffix(".json").read_text())
    assert "roc_auc" in card["metrics"] and "baseline_seed_cnn_roc_auc" in card["metrics"]
    m = card["evaluation"]
    assert set(m["baselines"]) == {"majority", "metadata", "seed_cnn"}
    assert m["baselines"]["majority"]["roc_auc"]["value"] == 0.5
    assert {"hand", "leg", "hip", "shoulder"} <= set(m["out_of_fold"]["subgroups"])
    for key in ("before", "after_temperature_crossfitted"):
        assert {"brier", "ece"} <= set(m["calibration"][key])


def test_app_loader_accepts_trained_model(export_dir, tmp_path, torch_mod):
    import core.model as model_mod
    import numpy as np

    model = _train(export_dir, tmp_path / "m", tmp_path)
    loaded = model_mod.load_model(model)
    pred = loaded.predict(np.random.default_rng(0).random((3, 1, 64, 64), dtype=np.float32))
    assert pred.probabilities.shape == (3,)


def test_bad_model_is_refused(export_dir, tmp_path, capsys):
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not onnx")
    (tmp_path / "x.json").write_text(json.dumps({"sha256": "0" * 64, "input": {"size": 64}}))
    assert main(["evaluate", "--model", str(bad), "--data", str(export_dir)]) == 2
    assert "sha256" in capsys.readouterr().err


def test_train_without_torch_says_so(monkeypatch, export_dir, tmp_path, capsys):
    import core.training as tr

    monkeypatch.setattr(tr, "torch_available", lambda: False)
    assert main(["train", "--data", str(export_dir), "--out", str(tmp_path / "o")]) == 2
    assert "PyTorch" in capsys.readouterr().err
