"""The app entry (``run_app``), the demo folder, error reporting, and the parts that need no folder."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import Qt

from desktop import shortcuts
from desktop.app import build_parser, run_app


def test_parser_accepts_the_documented_options():
    a = build_parser().parse_args(["/x", "--db", "sqlite:///y", "--reviewer", "AB", "--model", "m.onnx",
                                   "--quit-after-scan"])
    assert (a.folder, a.db, a.reviewer, a.model, a.quit_after_scan, a.demo) == ("/x", "sqlite:///y", "AB",
                                                                               "m.onnx", True, False)


def test_quit_after_scan_exits_cleanly(qapp, image_folder, db_url, test_model, capsys):
    code = run_app([str(image_folder), "--db", db_url, "--model", str(test_model), "--reviewer", "QA",
                    "--quit-after-scan"])
    assert code == 0
    assert "Scan complete: 8 scored" in capsys.readouterr().out
    from core.store import open_store

    with open_store(db_url, backups_keep=0) as store:
        assert len(store.image_rows(image_folder)) == 8


def test_quit_after_scan_without_a_model_says_so(qapp, image_folder, db_url, tmp_path, capsys):
    code = run_app([str(image_folder), "--db", db_url, "--model", str(tmp_path / "missing.onnx"),
                    "--quit-after-scan"])
    assert code == 3
    assert "no usable model" in capsys.readouterr().err


def test_unusable_database_is_a_clear_message(qapp, image_folder, tmp_path, test_model, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # the database's folder cannot be created under a regular file
    code = run_app([str(image_folder), "--db", "sqlite:///" + str(blocker / "x.sqlite3"), "--model", str(test_model),
                    "--quit-after-scan"])
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_demo_dicom_shows_with_window_level(make_window, tmp_path, qtbot):
    pytest.importorskip("data_store", reason="pydicom-data is not installed")
    from core.demo import build_demo_folder

    folder = tmp_path / "demo"
    build_demo_folder(folder)
    for p in folder.iterdir():  # two files are enough here (decoding 2000×2000 DICOMs takes time)
        if p.name not in ("RG3_UNCR.dcm", "RG1_J2KR.dcm"):
            p.unlink()
    w = make_window()
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    v = w.review.viewer
    qtbot.waitUntil(lambda: v.image is not None and v.image.qimage is not None, timeout=60000)
    img = v.image
    assert img.format == "DICOM" and img.raw is not None  # modality values kept for window/level
    assert "Patient" in w.review.info.left.text()  # on screen only
    before = v._pix.pixmap().toImage().pixel(img.width // 2, img.height // 2)
    qtbot.mousePress(v.viewport(), Qt.MouseButton.RightButton, pos=v.viewport().rect().center())
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtCore import QEvent, QPointF

    start = v.viewport().rect().center()
    move = QMouseEvent(QEvent.Type.MouseMove, QPointF(start.x() + 120, start.y() - 80), QPointF(),
                       Qt.MouseButton.NoButton, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier)
    v.mouseMoveEvent(move)
    qtbot.mouseRelease(v.viewport(), Qt.MouseButton.RightButton, pos=start)
    qtbot.waitUntil(lambda: v._pix.pixmap().toImage().pixel(img.width // 2, img.height // 2) != before)
    assert v.preset_name() == "Custom"
    v.apply_preset(0)


def test_unexpected_errors_are_logged_and_reported_once(qtbot, tmp_path):
    from desktop.errors import ErrorReporter, setup_logging

    log_file = setup_logging()
    reporter = ErrorReporter(log_file)
    shown = []
    reporter.reported.connect(shown.append)
    for _ in range(3):
        try:
            raise RuntimeError("boom-for-test")
        except RuntimeError as exc:
            reporter.report(exc)
    qtbot.waitUntil(lambda: len(shown) == 1)
    assert reporter.count == 3 and "Traceback" not in shown[0] and str(log_file) in shown[0]
    for h in logging.getLogger("fracture_triage").handlers:
        h.flush()
    assert "boom-for-test" in log_file.read_text(encoding="utf-8")


def test_shortcut_table_defaults_and_overrides():
    m = shortcuts.effective_shortcuts()
    assert m["fracture"] == ["F"] and m["undo"] == ["Ctrl+Z", "Backspace"] and m["next"] == ["Space", "J", "Down"]
    assert shortcuts.conflicts(m) == {}
    o = shortcuts.effective_shortcuts({"fracture": ["x"], "nonsense": ["Q"]})
    assert o["fracture"] == ["X"] and "nonsense" not in o
    assert shortcuts.overrides_from(o) == {"fracture": ["X"]}
    assert shortcuts.conflicts({**m, "doubt": ["F"]}) == {"F": ["fracture", "doubt"]}


def test_settings_dialog_persists_and_refuses_conflicts(qtbot, tmp_path):
    from PySide6.QtGui import QKeySequence

    from core.settings import Settings
    from desktop.dialogs.settings import SettingsDialog

    s = Settings(reviewer="AB")
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    dlg._editors["doubt"][0].setKeySequence(QKeySequence("F"))
    dlg.accept()
    assert dlg.result() == 0 and "more than one action" in dlg.error.text()
    dlg._editors["doubt"][0].setKeySequence(QKeySequence("Q"))
    dlg.reviewer.setText("  Dr  B ")
    dlg.database.setText(str(tmp_path / "other.sqlite3"))
    dlg.accept()
    assert s.shortcuts == {"doubt": ["Q"]} and s.reviewer == "Dr B"
    assert s.db_url == "sqlite:///" + str(tmp_path / "other.sqlite3")
    s.save(tmp_path / "settings.json")
    assert Settings.load(tmp_path / "settings.json").shortcuts == {"doubt": ["Q"]}


def test_about_shows_the_model_card(qtbot, test_model):
    from core.model import load_model
    from desktop.dialogs.about import AboutDialog

    dlg = AboutDialog(load_model(test_model))
    qtbot.addWidget(dlg)
    text = dlg.card.toPlainText()
    assert "0.0.1-test" in text and "FracAtlas" in text and "not a diagnosis" in text
    dlg2 = AboutDialog(None, "no model installed in resources/models")
    qtbot.addWidget(dlg2)
    assert "No model installed" in dlg2.card.toPlainText()


def _damaged_with_backup(tmp_path, monkeypatch, pages_only: bool = False):
    from core.store import StoreError, open_store
    from core.store.backup import backup_now
    from tests.core.store.helpers import fake_id, fill

    monkeypatch.setenv("FRACTURE_TRIAGE_HOME", str(tmp_path / "home"))
    db = tmp_path / "labels.db"
    s = open_store(f"sqlite:///{db}", backups_keep=0)
    fill(s, tmp_path, [i / 300 for i in range(300)])
    s.record_decision(fake_id(1), "dr a", "fracture")
    s.close()
    backup_now(db, tmp_path / "home" / "data" / "backups")
    import sqlite3

    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = c.execute("PRAGMA page_count").fetchone()[0]
    c.close()
    if pages_only:  # a few damaged pages in the middle (the decision table, at the end, survives)
        raw = bytearray(db.read_bytes())
        for p in range(pages // 3, pages // 3 + 2):
            raw[p * 4096 + 8: p * 4096 + 300] = b"\xa5" * 292
        db.write_bytes(bytes(raw))
    else:
        db.write_bytes(b"garbage " * 4000)
    try:
        open_store(f"sqlite:///{db}", backups_keep=0)
    except StoreError as exc:
        return db, exc
    raise AssertionError("the damaged file opened")


@pytest.mark.parametrize("how", ["restore", "salvage"])
def test_damaged_database_dialog_restores_or_salvages(qtbot, tmp_path, monkeypatch, how):
    from core.store import open_store
    from desktop.dialogs.recover import RESTORED, SALVAGED, RecoverDialog
    from tests.core.store.helpers import fake_id

    db, exc = _damaged_with_backup(tmp_path, monkeypatch, pages_only=how == "salvage")
    dlg = RecoverDialog(str(exc), db, exc.moved_to)
    qtbot.addWidget(dlg)
    assert "db restore" in str(exc) and dlg.list.count() == 1 and dlg.restore_button.isEnabled()
    with qtbot.waitSignal(dlg.finished_job, timeout=60000) as blocker:
        if how == "restore":
            dlg.restore_selected()
        else:
            dlg.salvage()
    if how == "restore":
        assert blocker.args == [RESTORED]
        s = open_store(f"sqlite:///{db}", backups_keep=0)
        assert s.current_labels()[fake_id(1)].label == "fracture"
        s.close()
    else:
        assert blocker.args == [SALVAGED] and "Salvaged" in dlg.result_text
        s = open_store(f"sqlite:///{db}", backups_keep=0)
        assert s.current_labels()[fake_id(1)].label == "fracture"
        s.close()
    assert exc.moved_to.exists()  # the damaged file itself is kept
