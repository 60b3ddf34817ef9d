"""``fracture-triage agreement`` and ``readers`` on a real database: two readers and an adjudicator;
the JSON report's kappa equals scikit-learn's on the same readings."""

from __future__ import annotations

import json
import random

import pytest

from core.cli import main
from core.store import open_store
from tests.core.store.helpers import db_url, fake_id, fill


def test_agreement_report_from_the_store(tmp_path, capsys):
    sk = pytest.importorskip("sklearn.metrics", reason="scikit-learn (test extra) not installed")
    url = db_url(tmp_path)
    s = open_store(url, backups_keep=0)
    fill(s, tmp_path, [0.5] * 60)
    rnd = random.Random(5)
    a_labels, b_labels = [], []
    for i in range(60):
        truth = "fracture" if i % 3 == 0 else "no_fracture"
        la = truth if rnd.random() < 0.9 else "doubt"
        lb = truth if rnd.random() < 0.75 else ("no_fracture" if truth == "fracture" else "fracture")
        s.record_decision(fake_id(i), "A", la, reading_mode="aided", shown_ms=2000 + i)
        s.record_decision(fake_id(i), "B", lb, reading_mode="blinded", shown_ms=5000 + i)
        a_labels.append(la)
        b_labels.append(lb)
        if la != lb:
            s.set_reader("adj", "adjudicator")
            s.record_decision(fake_id(i), "adj", truth)
    s.close()
    assert main(["readers", "--db", url]) == 0
    assert "adj\tadjudicator" in capsys.readouterr().out
    assert main(["agreement", "--db", url, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["readers"] == ["A", "B"]  # the adjudicator is not a reader
    pair = rep["pairs"]["A | B"]
    assert pair["n"] == 60 and pair["value"] == pytest.approx(sk.cohen_kappa_score(a_labels, b_labels))
    assert pair["low"] < pair["value"] < pair["high"]
    assert rep["fleiss"]["n"] == 60
    modes = {m["mode"]: m for m in rep["modes"]}
    assert modes["aided"]["median_ms"] == pytest.approx(2029.5) and modes["blinded"]["reads"] == 60
    assert set(rep["reference_counts"]) <= {"adjudicated", "agreed"}
    assert main(["agreement", "--db", url]) == 0
    text = capsys.readouterr().out
    assert "A | B:" in text and "Fleiss' kappa" in text and "blinded: 60 reads" in text
    a = next(r for r in rep["per_reader"] if r["reader"] == "A")
    c = a["counts"]
    assert c["tp"] + c["fn"] == a["sensitivity"]["n"] and c["tn"] + c["fp"] == a["specificity"]["n"]
    assert sum(c.values()) == a["reads"] == 60
    assert f"TP {c['tp']}, FN {c['fn']}, TN {c['tn']}, FP {c['fp']}" in text


def test_readers_set_role_and_bad_role(tmp_path, capsys):
    url = db_url(tmp_path)
    assert main(["readers", "--db", url, "--set", "Dr K", "--role", "adjudicator"]) == 0
    assert "Dr K\tadjudicator" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["readers", "--db", url, "--set", "Dr K", "--role", "boss"])


def test_readers_double_reading_policy(tmp_path, capsys):
    url = db_url(tmp_path)
    assert main(["readers", "--db", url]) == 0
    assert "double reading: off" in capsys.readouterr().out
    assert main(["readers", "--db", url, "--double-reading", "on"]) == 0
    assert "double reading: on" in capsys.readouterr().out
    assert main(["readers", "--db", url]) == 0
    assert "double reading: on" in capsys.readouterr().out  # kept in the database
    with pytest.raises(SystemExit):
        main(["readers", "--db", url, "--double-reading", "maybe"])
