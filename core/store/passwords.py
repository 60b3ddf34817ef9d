"""A PostgreSQL password from the operating system's keyring (GNOME Keyring / KWallet through the Secret
Service, macOS Keychain, Windows Credential Locker) — the third place the app takes a database password
from, beside ``~/.pgpass`` and a libpq service file, which libpq reads by itself.

Uses the optional ``keyring`` package (``pip install 'fracture-triage[keyring]'``; not part of the
PyInstaller bundle). Without it, or where no keyring backend exists (a server without a desktop
session), every lookup answers None and ``status`` says why in words — the app then connects as
before (``.pgpass``, service file) and never fails because of the keyring.

Entries: service ``fracture-triage``, account ``USER@HOST:PORT/DATABASE`` of the URL (never with a
password). The password is put into the engine's URL in memory only: everything that shows a URL
redacts it (``core.store.urls.redact``), and nothing here logs more than the kind of a failure.
"""

from __future__ import annotations

import logging
from typing import Optional

from sqlalchemy.engine.url import URL

from core.store.urls import parse

log = logging.getLogger(__name__)
SERVICE = "fracture-triage"


class KeyringUnavailable(RuntimeError):
    """No usable OS keyring here; ``str()`` says why and where the password can go instead."""


def account(url: str | URL) -> str:
    """The keyring account of a PostgreSQL URL: ``USER@HOST:PORT/DATABASE`` (no password)."""
    u = parse(url) if isinstance(url, str) else url
    host = u.host or u.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = ",".join(host)
    user = u.username or ""
    return f"{user}@{host}:{u.port or 5432}/{u.database or ''}"


def _backend():  # noqa: ANN202
    """The keyring module, or ``KeyringUnavailable`` saying why not."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        raise KeyringUnavailable("the keyring package is not installed in this copy of the app "
                                 "(pip install 'fracture-triage[keyring]'); use ~/.pgpass or a service file") from None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        raise KeyringUnavailable("no OS keyring is available here (no Secret Service, Keychain or Credential "
                                 "Locker); use ~/.pgpass or a PostgreSQL service file")
    return keyring


def usable() -> tuple[bool, str]:
    """(whether a keyring can keep a password here, which one — or why not, in words)."""
    try:
        kr = _backend()
    except KeyringUnavailable as exc:
        return False, str(exc)
    return True, type(kr.get_keyring()).__name__


def status() -> str:
    """One line for ``info``: which keyring the app would use, or why none."""
    ok, what = usable()
    return f"available ({what})" if ok else f"not used: {what}"


def lookup(url: str | URL) -> Optional[str]:
    """The stored password for this URL's account, or None (none stored, or no keyring)."""
    try:
        kr = _backend()
        return kr.get_password(SERVICE, account(url))
    except KeyringUnavailable:
        return None
    except Exception as exc:  # noqa: BLE001 - a locked or broken keyring must not stop the app
        log.warning("OS keyring lookup failed (%s); connecting without it", type(exc).__name__)
        return None


def store_password(url: str, password: str) -> str:
    """Keep ``password`` for this URL's account in the OS keyring; returns the account."""
    if not password:
        raise ValueError("an empty password is not stored")
    kr = _backend()
    acct = account(url)
    kr.set_password(SERVICE, acct, password)
    return acct


def forget(url: str) -> bool:
    """Remove this URL's password from the keyring; False when none was stored."""
    kr = _backend()
    from keyring.errors import PasswordDeleteError

    try:
        kr.delete_password(SERVICE, account(url))
    except PasswordDeleteError:
        return False
    return True


def with_password(u: URL) -> URL:
    """``u`` with the keyring's password for it when ``u`` has none of its own (and no password in
    its query); otherwise ``u`` unchanged."""
    if u.password or "password" in {k.lower() for k in u.query}:
        return u
    found = lookup(u)
    return u.set(password=found) if found else u


__all__ = ["SERVICE", "KeyringUnavailable", "account", "usable", "status", "lookup", "store_password", "forget", "with_password"]
