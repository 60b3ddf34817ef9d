"""Fixtures for the packaging tests: the modules under ``packaging/`` loaded by path (that folder is
not a package, and putting it on ``sys.path`` would let ``packaging/build.py`` shadow PyPI's ``build``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load(name: str, filename: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACKAGING / filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def buildinfo():
    return load("buildinfo", "buildinfo.py")


@pytest.fixture(scope="session")
def launch():
    return load("ft_launch", "launch.py")
