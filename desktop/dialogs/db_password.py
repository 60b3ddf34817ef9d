"""The PostgreSQL password in the OS keyring, from the app (Settings › General › Database › Password…):
the GUI twin of ``fracture-triage db password [--forget]``, over ``core.store.passwords``.

The password is typed into a masked field, handed to the keyring on a worker thread (a Secret
Service may take a while, or ask to unlock its collection) and the field is cleared at once; it is
never shown, put into settings.json, a message or the log — messages name the keyring account
(``USER@HOST:PORT/DATABASE``) and, on a failure, only its kind. Where no keyring exists (the optional
``keyring`` package missing, no backend on this machine) the dialog says so and where the password
can go instead (``~/.pgpass``, a service file), and offers nothing it cannot do.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget)

from core.store import passwords
from core.store.urls import redact


class DbPasswordDialog(QDialog):
    done_with = Signal(str)  # 'saved' | 'forgotten' | 'none stored' | 'failed' | 'unavailable' (tests wait on it)

    def __init__(self, url: str, tasks, parent: Optional[QWidget] = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setWindowTitle("Database password")
        self.setMinimumWidth(600)
        self.url, self.tasks = url, tasks
        self.account = passwords.account(url)
        lay = QVBoxLayout(self)
        intro = QLabel("Keep this database's password in the computer's keyring (GNOME Keyring or KWallet, macOS "
                       "Keychain, Windows Credential Locker). The app finds it there when it connects; it is never "
                       "shown, saved in the settings or written to the log.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        form.addRow("Database:", QLabel(_esc(redact(url).split("?", 1)[0])))
        form.addRow("Keyring account:", QLabel(_esc(self.account)))
        self.keyring_state = QLabel("Looking for the keyring…")
        self.keyring_state.setWordWrap(True)
        form.addRow("Keyring:", self.keyring_state)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setObjectName("db_password")
        self.password.setEnabled(False)
        self.password.textChanged.connect(lambda _t: self._buttons_state())
        self.password.returnPressed.connect(self.save)
        form.addRow("Password:", self.password)
        lay.addLayout(form)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("dialogNote")
        lay.addWidget(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = QPushButton("Save in keyring")
        self.forget_button = QPushButton("Forget stored password")
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.forget_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.clicked.connect(self.save)
        self.forget_button.clicked.connect(self.forget)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._available = False
        self._busy = True
        self._buttons_state()
        self.tasks.run_in_background(passwords.usable, self._looked, lambda exc: self._looked((False, _kind(exc))))

    # -- what the keyring can do (read on a worker thread) -------------------------------------------------
    def _looked(self, found: tuple[bool, str]) -> None:
        available, state = found
        self._available, self._busy = available, False
        if available:
            self.keyring_state.setText(f"available ({state})")
            self.password.setEnabled(True)
            self.password.setFocus()
        else:
            self.keyring_state.setText(f"Not available: {state}.")
            self.note.setText("The app connects without a keyring too: put the password in ~/.pgpass "
                              "(HOST:5432:DATABASE:USER:PASSWORD, mode 600) or a PostgreSQL service file.")
            self.adjustSize()  # the reason wraps over lines: let the dialog grow to show it whole
            self.done_with.emit("unavailable")
        self._buttons_state()

    def _buttons_state(self) -> None:
        ready = self._available and not self._busy
        self.save_button.setEnabled(ready and bool(self.password.text()))
        self.forget_button.setEnabled(ready)

    # -- saving and forgetting (the keyring is called on a worker thread) ---------------------------------
    def save(self) -> None:
        secret = self.password.text()
        if not secret or not self._available or self._busy:
            return
        self.password.clear()  # not kept in the widget while the keyring works
        self._start("Saving…")
        url = self.url
        self.tasks.run_in_background(lambda: passwords.store_password(url, secret), self._saved, self._failed)

    def forget(self) -> None:
        if not self._available or self._busy:
            return
        self._start("Removing…")
        url = self.url
        self.tasks.run_in_background(lambda: passwords.forget(url), self._forgotten, self._failed)

    def _start(self, text: str) -> None:
        self._busy = True
        self.note.setText(text)
        self._buttons_state()

    def _saved(self, account: str) -> None:
        self._busy = False
        self.note.setText(f"Saved in the keyring for {account}. The app uses it the next time it connects "
                          "to this database (the next start).")
        self._buttons_state()
        self.done_with.emit("saved")

    def _forgotten(self, gone: bool) -> None:
        self._busy = False
        self.note.setText(f"Removed the password for {self.account} from the keyring." if gone
                          else f"The keyring held no password for {self.account}.")
        self._buttons_state()
        self.done_with.emit("forgotten" if gone else "none stored")

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        self.note.setText(f"The keyring did not take it: {_kind(exc)}. Nothing was changed; ~/.pgpass or a "
                          "service file work without a keyring.")
        self._buttons_state()
        self.done_with.emit("failed")


def _kind(exc: BaseException) -> str:
    """A failure in words without its message (a keyring's message is not ours to show)."""
    if isinstance(exc, passwords.KeyringUnavailable):
        return str(exc)
    return f"{type(exc).__name__} (is the keyring locked?)"


def _esc(text: str) -> str:
    import html

    return html.escape(text)
