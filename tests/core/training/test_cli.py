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


def test_train_box_supervised_head_reports_localisation_and_comparison(fracatlas_dir, tmp_path, torch_mod):
    """--head gap trains 1.0.0's head; the default (map16) the stride-16 map with the box loss, and its
    card lists the finer map, the out-of-fold localisation and the earlier card given with --compare."""
    coco = {"images": [{"id": i, "width": 80, "height": 80, "file_name": f"IMG{i:07d}.jpg"} for i in range(0, 40, 4)],
            "annotations": [{"id": i, "image_id": i, "bbox": [5, 5, 30, 30]} for i in range(0, 40, 4)]}
    (fracatlas_dir / "fracture_boxes_coco.json").write_text(json.dumps(coco))
    first = _train(fracatlas_dir, tmp_path / "gap", tmp_path, "--head", "gap")
    gap_card = json.loads(first.with_suffix(".json").read_text())
    assert gap_card["outputs"][1]["shape"] == ["N", 2, 2] and gap_card["training"]["recipe"]["fit"]["cell_weight"] == 0
    model = _train(fracatlas_dir, tmp_path / "m", tmp_path, "--head", "map16", "--compare",
                   str(first.with_suffix(".json")))
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["architecture"]["head"] == "map16" and card["training"]["recipe"]["fit"]["cell_weight"] == 1.0
    assert card["outputs"][1]["shape"] == ["N", 4, 4] and card["outputs"][2]["name"] == "embedding"
    loc = card["evaluation"]["localisation"]
    assert loc["images"] == 10 and 0 <= loc["peak_in_box"] <= 1
    assert card["evaluation"]["comparison"][0]["model"] == "triagenet-t1"
    assert "suspicious" in card["thresholds"] and "lower bound" in card["evaluation"]["out_of_fold"]["threshold_rule"]
    md = (tmp_path / "m" / "MODEL_CARD.md").read_text()
    assert "Compared with earlier models" in md and "heatmap peak in box" in md and "## Scope gate" in md
    # the gate's statistics describe the embeddings the shipped graph itself produces (TTA on or off)
    import numpy as np

    from core.imaging.preprocess import to_tensor
    from core.training.cache import load_images
    from core.training.data import load_folder
    from core.training.export_onnx import run_onnx

    assert "scope" in card
    images, ok, _ = load_images(load_folder(fracatlas_dir), 64, tmp_path / "cache")
    _, _, emb = run_onnx(model.read_bytes(), to_tensor(images[ok]), embedding=True)
    assert np.allclose(emb.mean(0), card["scope"]["content"]["mean"], atol=2e-3)


@pytest.mark.parametrize("extra, message", [
    (["--trunk-versions", "1"], "--trunk-versions must be at least 2"),
    (["--backbone", "triagenet", "--trunk-versions", "6"], "--trunk-versions applies to the lite0 backbone"),
    (["--tops", "0"], "--tops must be at least 1"),
    (["--trunk-blocks", "12"], "--trunk-blocks must be 6..11"),
    (["--backbone", "triagenet", "--trunk-blocks", "8"], "--trunk-blocks applies to the lite0 backbone"),
    (["--backbone", "triagenet", "--tops", "2"], "--tops applies to the lite0 backbone"),
    (["--head", "gap", "--lse-r", "8"], "--lse-r applies to the map16 head"),
    (["--head-width", "4"], "--head-width must be 8..512"),
    (["--lse-r", "0"], "--lse-r must be 0.5..64"),
    (["--ema", "1"], "--ema must be between 0 and 1"),
    (["--float-blocks", "3"], "--float-blocks applies to --quantize int8"),
    (["--quantize", "int8", "--float-blocks", "12"], "--float-blocks must be 0..11"),
])
def test_trunk_versions_are_checked(export_dir, tmp_path, torch_mod, capsys, extra, message):
    assert main(["train", "--data", str(export_dir), "--out", str(tmp_path / "o"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("*.onnx"))


def test_train_int8_ships_the_quantized_graph_evaluated_out_of_fold(fracatlas_dir, tmp_path, torch_mod):
    """--quantize int8: the shipped file is the int8 graph; the card's out-of-fold figures, thresholds and
    scope gate are the int8 graph's (each fold's tops quantized on that fold's training images), with
    the float graph's figures beside them; the app loads it."""
    import numpy as np
    import onnx

    import core.model as model_mod
    from core.imaging.preprocess import to_tensor
    from core.training.cache import load_images
    from core.training.data import load_folder
    from core.training.export_onnx import run_onnx

    model = _train(fracatlas_dir, tmp_path / "q", tmp_path, "--quantize", "int8", "--float-blocks", "1",
                   "--workdir", str(tmp_path / "work"))
    card = json.loads(model.with_suffix(".json").read_text())
    q = card["training"]["quantization"]
    assert q["float_blocks"] == 1 and q["calibration_images"] > 0
    assert card["inference"]["weights"].startswith("onnxruntime static quantization")
    assert {"roc_auc", "specificity_at_95_sensitivity"} <= set(q["out_of_fold_float_graph"])
    assert q["out_of_fold_int8_graph"]["roc_auc"] == card["evaluation"]["out_of_fold"]["roc_auc"]["value"]
    assert 0 <= q["against_float_graph"]["probability_max_abs_diff"] <= 1
    assert "QuantizeLinear" in {n.op_type for n in onnx.load(str(model)).graph.node}
    assert len(list((tmp_path / "work").glob("int8-*/fold*.npz"))) == 2  # resumable, one per fold
    assert len(list((tmp_path / "work").glob("*/fold*-net.pt"))) == 2  # the fold weights it was made from
    # the scope gate describes the int8 graph's own embeddings
    images, ok, _ = load_images(load_folder(fracatlas_dir), 64, tmp_path / "cache")
    _, _, emb = run_onnx(model.read_bytes(), to_tensor(images[ok]), embedding=True)
    assert "scope" in card
    assert np.allclose(emb.mean(0), card["scope"]["content"]["mean"], atol=2e-3)
    assert "int8" in (tmp_path / "q" / "MODEL_CARD.md").read_text()
    pred = model_mod.load_model(model).predict(to_tensor(images[ok][:3]))
    assert pred.probabilities.shape == (3,) and np.all((pred.probabilities >= 0) & (pred.probabilities <= 1))


def test_cv_only_writes_the_out_of_fold_figures_and_no_model(fracatlas_dir, tmp_path, torch_mod, capsys):
    """--cv-only stops after the cross-validation: OUT/NAME-VERSION-cv.json with the out-of-fold figures
    of the recipe asked for (head options included), readable by --compare as a row; no .onnx, no .pt."""
    from core.training.card import card_row, read_card

    out = tmp_path / "m"
    assert main(["train", "--data", str(fracatlas_dir), "--out", str(out), "--epochs", "1", "--cv-folds", "2",
                 "--size", "64", "--cache", str(tmp_path / "cache"), "--version", "c1", "--lse-r", "8",
                 "--head-width", "16", "--cv-only"]) == 0
    printed = capsys.readouterr().out
    summary = out / "triagenet-c1-cv.json"
    assert f"cross-validation: {summary}" in printed and "specificity at 95% sensitivity" in printed
    assert not list(out.glob("*.onnx")) and not list(out.glob("*.pt"))
    cv = read_card(summary)
    assert cv["training"]["recipe"]["arch"]["lse_r"] == 8.0 and cv["training"]["recipe"]["arch"]["head_width"] == 16
    assert "no model" in cv["kind"] and "thresholds" not in cv
    row = card_row(cv)
    assert row["model"] == "triagenet-c1" and row["roc_auc"] == cv["evaluation"]["out_of_fold"]["roc_auc"]
    assert 0 <= row["roc_auc"]["value"] <= 1 and {"hand", "shoulder"} <= set(row["subgroup_auc"])
