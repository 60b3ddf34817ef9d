"""The settings dialog refuses a database address with a password (it would land in settings.json)
and says where the password goes instead; an address without one is saved as typed."""

from __future__ import annotations

from core.settings import Settings
from desktop.dialogs.settings import SettingsDialog


def test_database_address_with_password_is_refused(qtbot):
    settings = Settings(reviewer="AB")
    dlg = SettingsDialog(settings)
    qtbot.addWidget(dlg)
    dlg.database.setText("postgresql://ab:s3cret@db.clinic/labels")
    dlg.accept()
    assert settings.db_url == "" and ".pgpass" in dlg.error.text() and "s3cret" not in dlg.error.text()
    assert dlg.result() == 0  # still open
    dlg.database.setText("postgresql://ab@db.clinic/labels?sslmode=verify-full")
    dlg.accept()
    assert settings.db_url == "postgresql://ab@db.clinic/labels?sslmode=verify-full"
