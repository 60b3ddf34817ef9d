"""Shared test fixtures: an isolated app home per test session, the shared data folder (skipped
clearly when absent), and a small ONNX test model with a valid card."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory):
    """Never touch the real user's data/config directories from tests."""
    home = tmp_path_factory.mktemp("app-home")
    old = os.environ.get("FRACTURE_TRIAGE_HOME")
    os.environ["FRACTURE_TRIAGE_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("FRACTURE_TRIAGE_HOME", None)
    else:
        os.environ["FRACTURE_TRIAGE_HOME"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not available at {SHARED_DATA} (only present in the developers' workspace and CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_model(tmp_path_factory) -> Path:
    """Path of a small fake ONNX model (64×64 input, with a CAM output) and its card."""
    from tests.model_factory import write_model

    return write_model(tmp_path_factory.mktemp("model"))
