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
    """Never touch the real user's data/config directories (or a database or model chosen through the
    environment, see ``core.config``) from tests."""
    home = tmp_path_factory.mktemp("app-home")
    old = os.environ.get("FRACTURE_TRIAGE_HOME")
    os.environ["FRACTURE_TRIAGE_HOME"] = str(home)
    chosen = {k: os.environ.pop(k) for k in ("FRACTURE_TRIAGE_DB", "FRACTURE_TRIAGE_MODEL") if k in os.environ}
    yield home
    os.environ.update(chosen)
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


@pytest.fixture(scope="session")
def pg_server():
    """A private PostgreSQL server for the whole test run (Unix socket only; see tests/pgcluster.py).

    Skips with the reason when none can be started here; with FT_REQUIRE_PG=1 (set by .ci/run) that
    is a failure instead, so CI never passes by skipping every PostgreSQL test."""
    from tests.pgcluster import PgCluster

    def unavailable(why: str):
        if os.environ.get("FT_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL test server required (FT_REQUIRE_PG=1) but: {why}")
        pytest.skip(f"no PostgreSQL test server: {why}")

    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("the psycopg driver is not installed")
    cluster, why = PgCluster.find()
    if cluster is None:
        unavailable(why)
    try:
        cluster.start()
    except Exception as exc:  # noqa: BLE001 - any failure to start is a reason to skip
        cluster.stop()
        unavailable(f"it could not be started: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_server):
    """A new, empty database on the test server (dropped afterwards)."""
    url = pg_server.create_database()
    yield url
    try:
        pg_server.drop_database(url.rsplit("/", 1)[1].split("?")[0])
    except Exception:  # noqa: BLE001 - a connection still open in a failed test must not fail teardown
        pass
