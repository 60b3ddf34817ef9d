"""Store fixtures: ``store_url`` runs a test once on SQLite and once on the private PostgreSQL
server (skipped, with the reason, where none can be started); ``store`` opens it."""

from __future__ import annotations

import pytest

from tests.core.store.helpers import db_url

ENGINES = ["sqlite", "postgresql"]


def make_url_for(request, engine: str, tmp_path, name: str = "labels.db") -> str:
    if engine == "sqlite":
        return db_url(tmp_path, name)
    return request.getfixturevalue("pg_server").create_database()


@pytest.fixture(params=ENGINES)
def engine_name(request) -> str:
    return request.param


@pytest.fixture
def store_url(request, engine_name, tmp_path) -> str:
    if engine_name == "postgresql":
        return request.getfixturevalue("pg_url")
    return db_url(tmp_path)


@pytest.fixture
def another_url(request, engine_name, tmp_path) -> str:
    """A second, separate database on the same engine."""
    return make_url_for(request, engine_name, tmp_path, "other.db")


@pytest.fixture
def store(store_url):
    from core.store import open_store

    s = open_store(store_url, backups_keep=0)
    yield s
    s.close()
