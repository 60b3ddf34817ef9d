"""The clinic-loop subcommands end to end: performance, calibrate (--apply, --revert, --history), the
scan CSV's flag column and ``info`` following the active calibration, and models add/list/activate/
compare/remove — against a folder scanned by the CLI and labelled in the store."""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from tests.model_factory import write_model

N = 50


def _png(v: int) -> bytes:
    buf = io.BytesIO()  # an image the scope gate accepts (not blank, not tiny) whose mean is ``v``
    ramp = np.tile(np.linspace(-15, 15, 96), (80, 1))
    Image.fromarray(np.clip(v + ramp, 0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def clinic(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FRACTURE_TRIAGE_HOME", str(tmp_path / "home"))  # registry and settings of this test
    rng = np.random.default_rng(2)
    folder = tmp_path / "xr"
    folder.mkdir()
    levels = rng.permutation(np.linspace(25, 235, N).astype(int))
    for i, v in enumerate(levels):
        (folder / f"x{i:02d}.png").write_bytes(_png(int(v)))
    model = write_model(tmp_path / "m", name="testnet", version="1.0.0", suspicious=0.02, definite=0.9)
    db = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    assert main(["scan", str(folder), "--model", str(model), "--db", db]) == 0
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        for i, v in enumerate(levels):
            w.writerow([f"x{i:02d}.png", "fracture" if v + rng.normal(0, 40) > 130 else "no_fracture"])
    assert main(["import-labels", "--db", db, "--reviewer", "dr a", str(labels)]) == 0
    capsys.readouterr()
    return folder, model, db, tmp_path


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_performance_calibrate_and_flags_everywhere(clinic, capsys):
    folder, model, db, tmp = clinic
    rep = _json(capsys, ["performance", "--db", db, "--model", str(model), "--json"])
    assert rep["enough_labels"] and rep["counts"]["images"] == N and rep["thresholds"]["source"] == "card"
    assert main(["performance", "--db", db, "--model", str(model), "--since", "yesterday"]) == 2
    assert "--since must be a date" in capsys.readouterr().err

    prop = _json(capsys, ["calibrate", "--db", db, "--model", str(model), "--json"])
    assert prop["enough_labels"] and prop["applied_event"] is None
    assert main(["calibrate", "--db", db, "--model", str(model), "--apply"]) == 2  # who?
    assert "--by NAME" in capsys.readouterr().err
    assert main(["calibrate", "--db", db, "--model", str(model), "--apply", "--by", "dr b"]) == 0
    out = capsys.readouterr().out
    assert "Applied (event #1)" in out and "calibration #1" in out and "dr b" in out
    t_s, t_d = prop["proposed"]["suspicious"], prop["proposed"]["definite"]

    # the scan CSV's flag column uses the calibrated thresholds
    csv_path = tmp / "scan.csv"
    assert main(["scan", str(folder), "--model", str(model), "--db", db, "--csv", str(csv_path)]) == 0
    assert "calibration #1" in capsys.readouterr().out
    for r in csv.DictReader(csv_path.open()):
        p = float(r["probability"])
        if min(abs(p - t_s), abs(p - t_d)) < 1e-5:
            continue  # a threshold is one of the scores, and the CSV rounds to 6 decimals: the edge is ambiguous here
        expected = "" if r["scope"] == "out_of_scope" else "definite" if p >= t_d else "suspicious" if p >= t_s else ""
        assert r["flag"] == expected, (r, t_s, t_d)  # the scope gate's out-of-scope images are never flagged
    # info shows it; performance uses it
    assert main(["info", "--db", db, "--model", str(model)]) == 0
    assert "Active thresholds: suspicious >= " in (info := capsys.readouterr().out) and "calibration #1" in info
    rep2 = _json(capsys, ["performance", "--db", db, "--model", str(model), "--json"])
    assert rep2["thresholds"]["source"] == "calibration" and rep2["suspicious"]["threshold"] == pytest.approx(t_s, abs=1e-6)
    # export runs with the active thresholds (their effect on model_flag: tests/core/evaluation/test_calibration.py)
    assert main(["export", "--db", db, "--model", str(model), "--out", str(tmp / "out")]) == 0
    capsys.readouterr()

    assert main(["calibrate", "--db", db, "--model", str(model), "--revert", "--by", "dr c"]) == 0
    assert "the model card's" in capsys.readouterr().out
    assert main(["calibrate", "--db", db, "--model", str(model), "--history"]) == 0
    hist = capsys.readouterr().out
    assert "#1" in hist and "calibrate by dr b" in hist and "revert by dr c" in hist


def test_models_add_list_activate_compare_remove(clinic, capsys, monkeypatch):
    folder, model, db, tmp = clinic
    monkeypatch.delenv("FRACTURE_TRIAGE_MODEL", raising=False)
    # the scanned model plays the shipped one here
    monkeypatch.setattr("core.resources.models_dir", lambda: model.parent)
    cand = write_model(tmp / "c", name="testnet", version="2.0.0", gain=-5.0)
    assert main(["models", "add", str(cand)]) == 0
    assert "added testnet-2.0.0" in capsys.readouterr().out
    bad = write_model(tmp / "bad", name="badnet", version="3.0.0")
    bad.write_bytes(bad.read_bytes() + b"!")
    assert main(["models", "add", str(bad)]) == 2
    assert "does not match its card" in capsys.readouterr().err
    listed = _json(capsys, ["models", "list", "--db", db, "--json"])
    assert [(e["key"], e["shipped"], e["active"]) for e in listed] == [("testnet-1.0.0", True, True),
                                                                      ("testnet-2.0.0", False, False)]
    rep = _json(capsys, ["models", "compare", "testnet-2.0.0", "--db", db, "--json"])
    assert rep["counts"]["images"] == N and rep["scoring"]["scored"] == N
    assert rep["auc_difference"]["candidate_minus_current"] < 0 and len(rep["disagreements"]) == 20
    assert main(["models", "activate", "testnet-2.0.0", "--db", db, "--by", "dr a"]) == 0
    capsys.readouterr()
    assert main(["models", "remove", "testnet-2.0.0", "--db", db]) == 2
    assert "is the active model" in capsys.readouterr().err
    # scan now uses the activated model and reuses the scores the comparison stored
    assert main(["scan", str(folder), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "with model testnet 2.0.0" in out and f"({N} unchanged, reused from the database)" in out
    assert main(["models", "activate", "testnet-1.0.0", "--db", db, "--by", "dr a"]) == 0
    assert main(["models", "remove", "testnet-2.0.0", "--db", db]) == 0
    assert "removed testnet-2.0.0" in capsys.readouterr().out
    assert main(["models", "remove", "testnet-1.0.0", "--db", db]) == 2
    assert "shipped with the app" in capsys.readouterr().err
    assert not os.path.exists(tmp / "home" / "data" / "models" / "testnet-2.0.0.onnx")
