"""The one resource-path helper (core.resources) in every layout that can be checked here.

Tested for real: a source checkout, the environment override, a PyInstaller bundle simulated by
setting ``sys.frozen`` / ``sys._MEIPASS`` (the same attributes the bootloader sets), and an installed
layout simulated by importing a copy of the ``resources`` package from another sys.path entry (what
site-packages looks like after ``pip install``), and what a wheel would contain: setuptools' own
``build_py`` (the step that assembles a wheel's files) run on a copy of pyproject.toml + resources/ with
a model in it. Not done here (too slow for a unit test): building and installing a real wheel, and a
real PyInstaller build (the packaging tests exercise that).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from core import resources
from core.model import load_model
from tests.model_factory import write_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv(resources.ENV_OVERRIDE, raising=False)
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    return monkeypatch


def test_source_checkout(clean_env):
    assert resources.resources_dir() == ROOT / "resources"
    assert resources.models_dir() == ROOT / "resources" / "models"
    assert resources.icon_path("app.png") == ROOT / "resources" / "icons" / "app.png"


def test_environment_override(clean_env, tmp_path):
    clean_env.setenv(resources.ENV_OVERRIDE, str(tmp_path))
    assert resources.resources_dir() == tmp_path
    assert resources.resource_path("models", "x.onnx") == tmp_path / "models" / "x.onnx"


def test_pyinstaller_bundle(clean_env, tmp_path):
    bundle = tmp_path / "_internal"
    onnx_path = write_model(bundle / "resources" / "models")
    (bundle / "resources" / "VERSION").write_text("9.8.7\n")
    clean_env.setattr(sys, "frozen", True, raising=False)
    clean_env.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert resources.resources_dir() == bundle / "resources"
    assert resources.bundled_version() == "9.8.7"
    model = load_model()  # the default model, found inside the bundle and verified against its card
    assert model.path == onnx_path and model.version == "0.0.1-test"


def test_meipass_without_frozen_is_ignored(clean_env, tmp_path):
    clean_env.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resources_dir() == ROOT / "resources"


def test_bundled_version_fallback(clean_env, tmp_path):
    clean_env.setenv(resources.ENV_OVERRIDE, str(tmp_path))
    assert resources.bundled_version() == "0+unknown"


def test_installed_layout(tmp_path):
    """``resources`` imported from a site-packages-like folder (not the checkout) is found there."""
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "resources", site / "resources", ignore=shutil.ignore_patterns("__pycache__", "models"))
    write_model(site / "resources" / "models")  # only the test model: the shipped one must not be picked up
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from core.resources import resources_dir; from core.model import find_default_model; "
        "print(resources_dir()); print(find_default_model())"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != resources.ENV_OVERRIDE}
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, env={**env, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert Path(lines[0]) == (site / "resources").resolve()
    assert Path(lines[1]).name == "testnet-0.0.1-test.onnx"


def test_wheel_configuration_ships_resources():
    """What a wheel contains is decided by pyproject: resources must be a package, and its model and
    card (and icons) must be package data."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools_cfg = cfg["tool"]["setuptools"]
    assert any(pattern in ("resources", "resources*") for pattern in setuptools_cfg["packages"]["find"]["include"])
    assert (ROOT / "resources" / "__init__.py").is_file()
    data = setuptools_cfg["package-data"]
    patterns = set(data.get("*", [])) | set(data.get("resources", []))
    assert {"*.onnx", "*.json", "*.png"} <= patterns
    # models/ is a plain folder inside the package: package-data globs must reach into it
    models_patterns = set(data.get("resources.models", [])) | {p for p in patterns}
    assert "*.onnx" in models_patterns


def test_wheel_build_includes_model_and_card(tmp_path):
    """setuptools ``build_py`` (what goes into the wheel) on a copy of the project config + resources."""
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, proj / name)
    shutil.copytree(ROOT / "resources", proj / "resources", ignore=shutil.ignore_patterns("__pycache__"))
    onnx_path = write_model(proj / "resources" / "models")
    out = tmp_path / "build-lib"
    code = ("import sys; sys.argv = ['setup.py', '-q', 'build_py', '--build-lib', sys.argv[1]]; "
            "from setuptools import setup; setup()")
    res = subprocess.run([sys.executable, "-c", code, str(out)], cwd=proj, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "resources" / "__init__.py").is_file()
    assert (out / "resources" / "models" / onnx_path.name).is_file()
    assert (out / "resources" / "models" / onnx_path.with_suffix(".json").name).is_file()
