"""The PostgreSQL password from the OS keyring (``core.store.passwords``): kept and found per account,
put into the engine's URL without ever being shown, and a clear fallback where no keyring exists
(no package, no backend). The real PostgreSQL test server takes a connection made that way."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from core.store import passwords

keyring = pytest.importorskip("keyring", reason="the optional keyring package is not installed")
from keyring.backend import KeyringBackend  # noqa: E402
from keyring.backends import fail  # noqa: E402

SECRET = "s3cret-Pa55"


class MemoryKeyring(KeyringBackend):
    """A keyring backend in memory (the tests' stand-in for the Secret Service)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):  # noqa: ANN001, ANN201
        return self.items.get((service, username))

    def set_password(self, service, username, password):  # noqa: ANN001, ANN201
        self.items[(service, username)] = password

    def delete_password(self, service, username):  # noqa: ANN001, ANN201
        from keyring.errors import PasswordDeleteError

        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


@pytest.fixture
def memory_keyring():
    old = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(old)


@pytest.fixture
def no_backend():
    old = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(old)


def test_kept_found_and_forgotten_per_account(memory_keyring):
    url = "postgresql://reader@db.clinic.example:5433/labels?sslmode=verify-full"
    assert passwords.account(url) == "reader@db.clinic.example:5433/labels"
    assert passwords.account("postgresql://me@/labels?host=/run/postgresql") == "me@/run/postgresql:5432/labels"
    assert passwords.lookup(url) is None
    assert passwords.store_password(url, SECRET) == "reader@db.clinic.example:5433/labels"
    assert memory_keyring.items == {("fracture-triage", "reader@db.clinic.example:5433/labels"): SECRET}
    assert passwords.lookup(url) == SECRET
    assert passwords.lookup("postgresql://other@db.clinic.example:5433/labels") is None
    assert "available (MemoryKeyring)" == passwords.status()
    assert passwords.forget(url) is True and passwords.forget(url) is False
    with pytest.raises(ValueError):
        passwords.store_password(url, "")


def test_no_keyring_falls_back_clearly(no_backend, monkeypatch):
    url = "postgresql://reader@db/labels"
    assert passwords.lookup(url) is None  # connecting goes on without it (~/.pgpass, service file)
    assert "no OS keyring is available here" in passwords.status() and ".pgpass" in passwords.status()
    with pytest.raises(passwords.KeyringUnavailable, match="pgpass"):
        passwords.store_password(url, SECRET)
    monkeypatch.setitem(sys.modules, "keyring", None)  # the package not installed at all
    assert passwords.lookup(url) is None
    assert "keyring package is not installed" in passwords.status()


def test_a_broken_keyring_is_logged_without_details(memory_keyring, caplog, monkeypatch):
    def broken(*_a):
        raise RuntimeError(f"D-Bus said no for {SECRET}")

    monkeypatch.setattr(memory_keyring, "get_password", broken)
    with caplog.at_level(logging.WARNING):
        assert passwords.lookup("postgresql://reader@db/labels") is None
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text


def test_engine_takes_the_password_without_showing_it(memory_keyring, pg_url, caplog):
    from core.store import open_store
    from core.store.engine import describe, make_engine
    from sqlalchemy.engine.url import make_url

    passwords.store_password(pg_url, SECRET)
    engine = make_engine(pg_url)
    try:
        assert engine.url.password == SECRET  # in memory, for libpq
        assert SECRET not in describe(engine) and SECRET not in repr(engine) and SECRET not in str(engine.url)
    finally:
        engine.dispose()
    with_own = make_url(pg_url).set(password="given")
    assert passwords.with_password(with_own).password == "given"  # an address's own password wins
    with caplog.at_level(logging.DEBUG):
        store = open_store(pg_url, backups_keep=0)  # the test server accepts the connection
        try:
            assert store.last_event_id() == 0 and SECRET not in store.location
        finally:
            store.close()
    assert SECRET not in caplog.text


def test_cli_keeps_and_forgets_the_password(memory_keyring, monkeypatch, capsys):
    from core.cli import main

    url = "postgresql://reader@db.clinic.example/labels"
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    assert main(["db", "--db", url, "password"]) == 0
    out = capsys.readouterr()
    assert "kept in the OS keyring" in out.out and SECRET not in out.out + out.err
    assert passwords.lookup(url) == SECRET
    assert main(["db", "--db", url, "password", "--forget"]) == 0
    assert "Removed" in capsys.readouterr().out and passwords.lookup(url) is None
    assert main(["db", "--db", "sqlite:////tmp/x.db", "password"]) != 0
    assert "only a PostgreSQL database" in capsys.readouterr().err


def test_cli_without_a_keyring_says_where_the_password_goes(no_backend, monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    assert main(["db", "--db", "postgresql://reader@db/labels", "password"]) != 0
    err = capsys.readouterr().err
    assert "no OS keyring" in err and ".pgpass" in err and SECRET not in err
