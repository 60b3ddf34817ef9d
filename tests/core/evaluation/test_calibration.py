"""Calibration: proposals fitted with the card's rule, the minimum-count rule, calibration events and
their effect on flags (worklist, export), revert, and the store failing."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from core.evaluation import calibration as C
from core.evaluation import metrics as M
from tests.core.evaluation.helpers import labelled_store, scores_and_labels, model_card


@pytest.fixture
def setup(tmp_path):
    y, p = scores_and_labels(40, 120)
    store = labelled_store(tmp_path, y, p, doubt=3, unlabelled=10)
    card = model_card(tmp_path, suspicious=0.05, definite=0.9)
    yield store, card, y, p
    store.close()


def test_proposal_uses_the_cards_rule_on_confirmed_labels_only(setup):
    store, card, y, p = setup
    prop = C.propose(store, card)
    assert prop.enough
    from core.evaluation import labelled as L

    data = L.build(store.labelled_images(), card.version)
    th = M.choose_thresholds(data.y, data.p, data.groups)
    assert prop.thresholds.suspicious == pytest.approx(th["suspicious"], abs=1e-9)
    assert prop.thresholds.definite == pytest.approx(th["definite"], abs=1e-9)
    assert prop.basis()["rule"] == M.MARGIN_RULE
    assert prop.counts["fracture"] == 40 and prop.counts["no_fracture"] == 120 and prop.counts["doubt_excluded"] == 3
    assert prop.in_sample["suspicious"]["sensitivity"] >= 0.95
    assert prop.in_sample["definite"]["specificity"] >= 0.90
    all_p = np.r_[p, [0.5] * 13]
    assert prop.flagged_share["images"] == len(all_p)
    assert prop.flagged_share["proposed"]["suspicious_or_definite"] == pytest.approx(np.mean(all_p >= prop.thresholds.suspicious), abs=1e-4)
    assert prop.flagged_share["current"]["definite"] == pytest.approx(np.mean(all_p >= 0.9), abs=1e-4)
    assert store.model_events() == []  # proposing writes nothing


def test_apply_changes_the_active_thresholds_and_revert_restores_the_card(setup, tmp_path):
    store, card, _y, _p = setup
    assert C.active_thresholds(store, card).source == "card"
    prop = C.propose(store, card)
    ev = C.apply(store, prop, "dr b")
    act = C.active_thresholds(store, card)
    assert act.calibrated and act.event.id == ev.id and act.thresholds == prop.thresholds
    assert ev.actor == "dr b" and ev.basis["counts"]["fracture"] == 40
    assert "calibration #" in act.describe() and "dr b" in act.describe()
    # another model version is not affected
    other = model_card(tmp_path, version="9.9.9")
    assert C.active_thresholds(store, other).source == "card"
    C.revert(store, card, "dr c")
    back = C.active_thresholds(store, card)
    assert back.source == "card" and back.thresholds == card.thresholds
    assert [e.kind for e in store.model_events(card.version)] == ["calibrate", "revert"]


def test_too_few_labels_are_refused(tmp_path):
    y, p = scores_and_labels(19, 200)
    store = labelled_store(tmp_path, y, p)
    card = model_card(tmp_path)
    prop = C.propose(store, card)
    assert not prop.enough and prop.thresholds is None
    assert "19 fractures" in prop.message and "at least 20" in prop.message
    with pytest.raises(C.CalibrationError, match="not enough labels"):
        C.apply(store, prop, "dr a")
    assert store.model_events() == []
    store.close()


def test_labels_without_a_score_of_this_version_do_not_count(setup, tmp_path):
    store, _card, _y, _p = setup
    other = model_card(tmp_path, version="2.0.0")
    prop = C.propose(store, other)
    assert not prop.enough and prop.counts["without_score_excluded"] == 160


def test_calibration_moves_worklist_flags_and_disagreements(setup):
    from core.worklist import Worklist

    store, card, y, p = setup
    wl = Worklist(store, C.active_thresholds(store, card).thresholds, model_version=card.version)
    wl.reload()
    before = wl.counts()
    prop = C.propose(store, card)
    C.apply(store, prop, "dr a")
    wl2 = Worklist(store, C.active_thresholds(store, card).thresholds, model_version=card.version)
    wl2.reload()
    after = wl2.counts()
    all_p = np.r_[p, [0.5] * 13]
    assert before["flagged"] == int(np.sum(all_p >= 0.05))
    assert after["flagged"] == int(np.sum(all_p >= prop.thresholds.suspicious))
    missed = int(np.sum((y == 1) & (p < prop.thresholds.suspicious)))
    false_flags = int(np.sum((y == 0) & (p >= prop.thresholds.suspicious)))
    assert after["disagreements"] == missed + false_flags
    assert before != after


def test_export_flags_follow_the_active_thresholds(setup, tmp_path):
    from core.export import export_labels

    store, card, y, p = setup
    C.apply(store, C.propose(store, card), "dr a")
    act = C.active_thresholds(store, card)
    summary = export_labels(store, tmp_path / "out", thresholds=act.thresholds)
    rows = list(csv.DictReader(open(summary.out / "labels.csv", encoding="utf-8")))
    flagged = sum(r["model_flag"] != "none" for r in rows if r["label"] in ("fracture", "no_fracture"))
    assert flagged == int(np.sum(p >= act.thresholds.suspicious))


def test_an_unreadable_database_falls_back_to_the_card(setup):
    store, card, _y, _p = setup
    C.apply(store, C.propose(store, card), "dr a")
    store.close()

    class Broken:
        def latest_model_event(self, *a, **k):
            raise RuntimeError("disk I/O error")

    act = C.active_thresholds(Broken(), card)
    assert act.source == "card" and "disk I/O error" in act.note
    assert C.active_thresholds(None, card).thresholds == card.thresholds


def test_events_need_a_name_and_sane_thresholds(setup):
    store, card, _y, _p = setup
    with pytest.raises(ValueError, match="name is required"):
        store.record_model_event("calibrate", card.name, card.version, " ", suspicious=0.1, definite=0.2)
    with pytest.raises(ValueError, match="suspicious <= definite"):
        store.record_model_event("calibrate", card.name, card.version, "dr a", suspicious=0.5, definite=0.2)
    with pytest.raises(ValueError, match="kind"):
        store.record_model_event("delete", card.name, card.version, "dr a")
