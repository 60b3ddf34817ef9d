"""One resolver for every entry point: flag > environment > settings > default, for the database and
the model; and the commands that used to ignore the settings' database (export, import-labels) now
use it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.config import DEFAULT, ENV_DB, ENV_MODEL, ENVIRONMENT, FLAG, SETTINGS, resolve
from core.paths import default_db_url
from core.settings import Settings
from tests.core.store.helpers import db_url, fill, open_test_store


def test_flag_beats_environment_beats_settings_beats_default():
    s = Settings(db_url="sqlite:///settings.db", model_path="/m/settings.onnx")
    env = {ENV_DB: "sqlite:///env.db", ENV_MODEL: "/m/env.onnx"}
    c = resolve(db="sqlite:///flag.db", model="/m/flag.onnx", settings=s, environ=env)
    assert (c.db_url, c.db_source, c.model_path, c.model_source) == ("sqlite:///flag.db", FLAG, Path("/m/flag.onnx"), FLAG)
    c = resolve(settings=s, environ=env)
    assert (c.db_url, c.db_source, c.model_path, c.model_source) == ("sqlite:///env.db", ENVIRONMENT, Path("/m/env.onnx"), ENVIRONMENT)
    c = resolve(settings=s, environ={})
    assert (c.db_url, c.db_source, c.model_path, c.model_source) == ("sqlite:///settings.db", SETTINGS, Path("/m/settings.onnx"), SETTINGS)
    c = resolve(settings=Settings(), environ={})
    assert (c.db_url, c.db_source, c.model_path, c.model_source) == (default_db_url(), DEFAULT, None, DEFAULT)


def test_blank_values_do_not_count():
    c = resolve(db="  ", settings=Settings(db_url="sqlite:///s.db"), environ={ENV_DB: ""})
    assert (c.db_url, c.db_source) == ("sqlite:///s.db", SETTINGS)


def test_settings_are_read_from_the_config_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("FRACTURE_TRIAGE_HOME", str(tmp_path))
    monkeypatch.delenv(ENV_DB, raising=False)
    Settings(db_url="sqlite:///x.db", backups_keep=2).save()
    c = resolve()
    assert (c.db_url, c.db_source, c.backups_keep) == ("sqlite:///x.db", SETTINGS, 2)


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    """A clinic that moved its database: settings.json names it, no --db is given."""
    home = tmp_path / "home"
    monkeypatch.setenv("FRACTURE_TRIAGE_HOME", str(home))
    monkeypatch.delenv(ENV_DB, raising=False)
    monkeypatch.delenv(ENV_MODEL, raising=False)
    moved = tmp_path / "moved"
    moved.mkdir()
    Settings(db_url=db_url(moved), backups_keep=0).save()
    store = open_test_store(moved)
    items = fill(store, tmp_path / "imgs", [0.9, 0.2])
    yield store, items, tmp_path
    store.close()


def test_export_uses_the_settings_database(clinic):
    from core import cli

    store, items, tmp_path = clinic
    store.record_decision(items[0].image_id, "RB", "fracture")
    out = tmp_path / "export"
    assert cli.main(["export", "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "labels.csv").open(encoding="utf-8")))
    assert [r["label"] for r in rows] == ["fracture"]
    assert not (tmp_path / "home" / "data" / "fracture-triage.sqlite3").exists()  # no empty default DB made


def test_import_labels_uses_the_settings_database(clinic, capsys):
    from core import cli

    store, items, tmp_path = clinic
    labels = tmp_path / "l.csv"
    labels.write_text(f"path,label\n{items[1].path.name},no_fracture\n", encoding="utf-8")
    assert cli.main(["import-labels", "--reviewer", "RB", str(labels)]) == 0
    assert "imported 1 labels" in capsys.readouterr().out
    assert store.current_labels([items[1].image_id])[items[1].image_id].label == "no_fracture"
    assert not (tmp_path / "home" / "data" / "fracture-triage.sqlite3").exists()


def test_environment_database_is_used_by_export(clinic, monkeypatch, tmp_path):
    from core import cli

    store, items, base = clinic
    other = tmp_path / "other"
    other.mkdir()
    open_test_store(other).close()
    monkeypatch.setenv(ENV_DB, db_url(other))
    out = tmp_path / "export"
    store.record_decision(items[0].image_id, "RB", "fracture")
    assert cli.main(["export", "--out", str(out)]) == 0
    assert json.loads((out / "labels.json").read_text(encoding="utf-8"))["rows"] == []  # the environment's, empty


def test_info_says_where_the_database_comes_from(clinic, capsys, monkeypatch):
    from core import cli

    assert cli.main(["info"]) == 0
    assert "(from the settings)" in capsys.readouterr().out
    monkeypatch.setenv(ENV_DB, "sqlite:////tmp/env-db.sqlite3")
    assert cli.main(["info"]) == 0
    assert "Database: sqlite:////tmp/env-db.sqlite3  (from the environment)" in capsys.readouterr().out
