"""The Model dialog: the report with its plots and alarm, applying and reverting a calibration (flags
and status bar follow), and comparing a candidate in the background with the disagreeing images
openable in a viewer. Waits on signals only."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.evaluation.calibration import active_thresholds
from core.model.registry import Registry
from tests.model_factory import write_model

N = 48


@pytest.fixture
def labelled_window(make_window, tmp_path, qtbot):
    """A window over a folder of N images, each decided (bright ones mostly 'fracture')."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "clinic"
    folder.mkdir()
    levels = np.linspace(30, 230, N).astype(int)
    for i, v in enumerate(levels):
        Image.fromarray(np.clip(rng.normal(v, 4, (64, 64)), 0, 255).astype(np.uint8)).save(folder / f"x{i:02d}.png")
    w = make_window()
    with qtbot.waitSignal(w.scan_done, timeout=300000):
        w.open_folder(folder)
    store = w.session.store
    for it in list(w.session.worklist):
        level = levels[int(it.name[1:3])]
        label = "fracture" if level + rng.normal(0, 45) > 130 else "no_fracture"
        store.record_decision(it.image_id, "QA", label, model_version=it.model_version, probability=it.probability)
    return w


def test_report_calibration_and_compare(labelled_window, qtbot, tmp_path, test_model):
    w = labelled_window
    reg = Registry(tmp_path / "registry", test_model.parent)
    cand = write_model(tmp_path / "cand", name="testnet", version="0.0.2-test", gain=-6.0)
    dlg = w.open_model_dialog(registry=reg)
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=300000)
    rep = dlg.report
    assert rep["enough_labels"] and rep["counts"]["images"] == N
    assert len(dlg.roc.fpr) > 2 and len(dlg.roc.points) == 2 and dlg.calibration_plot.bins
    assert dlg.alarm.isVisible() == bool(rep["alarm"])
    assert "ROC-AUC" in dlg.perf_text.toPlainText()

    # calibrate: recorded, the session's flags and the status bar follow; revert restores the card's
    assert dlg.apply_button.isEnabled() and not dlg.revert_button.isEnabled()
    proposed = dlg.proposal.thresholds
    with qtbot.waitSignal(dlg.thresholds_changed, timeout=120000):
        dlg.apply_calibration()
    assert w.session.thresholds == proposed and w.session.active.calibrated
    assert "(calibrated)" in w.status.thresholds.text()
    qtbot.waitUntil(lambda: w.session.worklist is not None and w.session.worklist.thresholds == proposed, timeout=120000)
    qtbot.waitUntil(dlg.revert_button.isEnabled, timeout=300000)
    with qtbot.waitSignal(dlg.thresholds_changed, timeout=120000):
        dlg.revert_calibration()
    assert w.session.thresholds == w.session.model.card.thresholds
    assert [e.kind for e in w.session.store.model_events()] == ["calibrate", "revert"]
    assert not active_thresholds(w.session.store, w.session.model.card).calibrated

    # add a candidate and compare it in the background
    dlg.add_model(str(cand))
    qtbot.waitUntil(lambda: dlg.models_table.rowCount() == 2, timeout=120000)
    entry = [e for e in dlg.entries if e.key == "testnet-0.0.2-test"][0]
    with qtbot.waitSignal(dlg.compare_done, timeout=600000) as done:
        dlg.compare_selected(entry)
    rep = done.args[0]
    assert rep is not None and rep["counts"]["images"] == N
    assert rep["auc_difference"]["candidate_minus_current"] < 0
    assert dlg.disagree.rowCount() == min(N, 20) and not dlg.progress.isVisible()
    viewer = dlg.open_disagreement(0)
    qtbot.waitUntil(lambda: viewer.viewer.image is not None, timeout=120000)
    # the worklist still shows the current model's scores
    w.session.worklist.set_filter("all")
    assert {it.model_version for it in w.session.worklist} == {w.session.model.version}
