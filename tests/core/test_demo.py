"""The demo folder (``core.demo``): the twelve bundled FracAtlas radiographs and the pydicom-data
films copied in atomically, again only when they changed; without pydicom-data the bundled ones alone,
and a clear message naming what to install when even those are missing."""

from __future__ import annotations

import builtins

import pytest

import core.demo
from core.demo import DEMO_FILES, DemoUnavailable, build_demo_folder, bundled_radiographs, demo_dir


def test_demo_folder_from_pydicom_data(tmp_path):
    pytest.importorskip("data_store", reason="pydicom-data is not installed")
    folder = build_demo_folder(tmp_path / "demo")
    names = sorted(p.name for p in folder.iterdir())
    bundled = {p.name for p in bundled_radiographs()}
    assert len(bundled) == 12 and bundled <= set(names)
    assert set(names) - bundled and set(names) - bundled <= set(DEMO_FILES)
    assert not any(p.name.startswith(".") for p in folder.iterdir())  # no partial copies left
    first = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    build_demo_folder(folder)  # unchanged files are not copied again
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == first


def test_missing_package_says_what_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_data_store(name, *args, **kwargs):
        if name == "data_store":
            raise ImportError("No module named 'data_store'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_data_store)
    folder = build_demo_folder(tmp_path / "demo")  # the bundled radiographs alone
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in bundled_radiographs())
    monkeypatch.setattr(core.demo, "bundled_radiographs", lambda: [])
    with pytest.raises(DemoUnavailable, match="pip install pydicom-data"):
        build_demo_folder(tmp_path / "demo2")
    assert not (tmp_path / "demo2").exists()


def test_default_folder_is_in_the_user_data_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("FRACTURE_TRIAGE_HOME", str(tmp_path))
    assert demo_dir() == tmp_path / "data" / "demo"
