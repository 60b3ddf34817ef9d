"""Settings › Database › Password…: the PostgreSQL password into the OS keyring from the app
(``desktop.dialogs.db_password``), the keyring called off the GUI thread, the password never shown,
kept in the field, logged or put in settings; a clear message where no keyring exists or it fails."""

from __future__ import annotations

import logging

import pytest

from core.settings import Settings
from desktop.dialogs.settings import SettingsDialog
from desktop.tasks import TaskRunner

keyring = pytest.importorskip("keyring", reason="the optional keyring package is not installed")
from keyring.backends import fail  # noqa: E402

from tests.core.store.test_passwords import MemoryKeyring  # noqa: E402

SECRET = "Gui-s3cret-77"
URL = "postgresql://reader@db.clinic.example:5433/labels?sslmode=verify-full"


@pytest.fixture
def tasks(qtbot):
    runner = TaskRunner(workers=2)
    yield runner
    runner.shutdown()


@pytest.fixture
def memory_keyring():
    old = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(old)


def _texts(dlg) -> str:  # noqa: ANN001
    from PySide6.QtWidgets import QLabel

    return " ".join(label.text() for label in dlg.findChildren(QLabel))


def _open(qtbot, tasks, url=URL):  # noqa: ANN001
    settings = Settings(reviewer="AB")
    dlg = SettingsDialog(settings, tasks=tasks)
    qtbot.addWidget(dlg)
    dlg.database.setText(url)
    return settings, dlg


def test_password_saved_in_the_keyring_and_forgotten(qtbot, tasks, memory_keyring, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    settings, dlg = _open(qtbot, tasks)
    assert dlg.password_button.isVisibleTo(dlg) and dlg.password_button.isEnabled()
    pw = dlg.open_password()
    qtbot.waitUntil(pw.password.isEnabled, timeout=10000)
    assert "MemoryKeyring" in pw.keyring_state.text() and "reader@db.clinic.example:5433/labels" in _texts(pw)
    assert not pw.save_button.isEnabled()  # nothing typed yet
    pw.password.setText(SECRET)
    assert pw.password.echoMode() == pw.password.EchoMode.Password
    with qtbot.waitSignal(pw.done_with, timeout=10000) as saved:
        pw.save_button.click()
        assert pw.password.text() == ""  # cleared at once, before the keyring answers
    assert saved.args == ["saved"]
    assert memory_keyring.items == {("fracture-triage", "reader@db.clinic.example:5433/labels"): SECRET}
    assert "Saved in the keyring for reader@db.clinic.example:5433/labels" in pw.note.text()
    with qtbot.waitSignal(pw.done_with, timeout=10000) as forgotten:
        pw.forget_button.click()
    assert forgotten.args == ["forgotten"] and memory_keyring.items == {}
    with qtbot.waitSignal(pw.done_with, timeout=10000) as again:
        pw.forget_button.click()
    assert again.args == ["none stored"] and "held no password" in pw.note.text()
    pw.close()
    dlg.accept()
    assert settings.db_url == URL  # the address is saved, the password never
    settings.save(tmp_path / "settings.json")
    assert SECRET not in (tmp_path / "settings.json").read_text()
    assert SECRET not in caplog.text and SECRET not in _texts(pw)


def test_only_a_postgresql_address_without_its_own_password_gets_the_button(qtbot, tasks):
    _, dlg = _open(qtbot, tasks, "/home/me/labels.sqlite3")
    assert not dlg.password_button.isEnabled() and dlg.open_password() is None
    dlg.database.setText("postgresql://ab:inline@db/labels")
    assert not dlg.password_button.isEnabled()
    dlg.database.setText("postgresql://ab@db/labels")
    assert dlg.password_button.isEnabled()
    without_tasks = SettingsDialog(Settings())
    qtbot.addWidget(without_tasks)
    assert not without_tasks.password_button.isVisibleTo(without_tasks)


def test_no_keyring_says_where_the_password_goes_instead(qtbot, tasks):
    old = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        _, dlg = _open(qtbot, tasks)
        pw = dlg.open_password()
        qtbot.waitUntil(lambda: "Not available" in pw.keyring_state.text(), timeout=10000)
    finally:
        keyring.set_keyring(old)
    assert "no OS keyring is available here" in pw.keyring_state.text() and ".pgpass" in pw.note.text()
    assert not pw.password.isEnabled() and not pw.save_button.isEnabled() and not pw.forget_button.isEnabled()


class BrokenKeyring(MemoryKeyring):
    def set_password(self, service, username, password):  # noqa: ANN001, ANN201
        raise RuntimeError(f"backend echoed {password}")  # a backend's message may carry anything


def test_a_failing_keyring_is_reported_by_kind_only(qtbot, tasks, caplog):
    old = keyring.get_keyring()
    keyring.set_keyring(BrokenKeyring())
    try:
        _, dlg = _open(qtbot, tasks)
        pw = dlg.open_password()
        qtbot.waitUntil(pw.password.isEnabled, timeout=10000)
        pw.password.setText(SECRET)
        with qtbot.waitSignal(pw.done_with, timeout=10000) as failed:
            pw.password.returnPressed.emit()
    finally:
        keyring.set_keyring(old)
    assert failed.args == ["failed"] and "RuntimeError" in pw.note.text()
    assert SECRET not in pw.note.text() and SECRET not in caplog.text and pw.password.text() == ""
    assert pw.save_button.isEnabled() is False  # the field is empty again: type it once more to retry


def test_the_main_window_hands_its_task_runner_to_the_settings(make_window, monkeypatch):
    w = make_window()
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: 0)
    w.open_settings()
    assert w.settings_dialog.tasks is w.tasks and w.settings_dialog.password_button.isVisibleTo(w.settings_dialog)
