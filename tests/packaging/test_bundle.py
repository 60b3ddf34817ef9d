"""The full PyInstaller build and the bundle's smoke test (about 2 minutes of CPU on 2 cores).

Runs when ``FT_BUILD_BUNDLE=1`` (CI sets it), or by itself when the packaging files differ from
``origin/main`` (or, without that ref, have uncommitted changes); ``FT_BUILD_BUNDLE=0`` always skips.
By hand: ``FT_BUILD_BUNDLE=1 .venv/bin/python -m pytest tests/packaging -q -k bundle``.
The build goes to a temporary folder, so a developer's ``dist/`` is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.packaging.conftest import PACKAGING, ROOT

ENV = "FT_BUILD_BUNDLE"
WATCHED = ["packaging", "pyproject.toml", ".github/workflows/build.yml"]


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)


def packaging_changes() -> list[str]:
    """Packaging files that differ from origin/main (or HEAD when there is no origin/main), untracked ones included."""
    if not shutil.which("git") or _git("rev-parse", "--git-dir").returncode != 0:
        return []
    base = "origin/main" if _git("rev-parse", "--verify", "--quiet", "origin/main").returncode == 0 else "HEAD"
    changed = _git("diff", "--name-only", base, "--", *WATCHED).stdout.split()
    changed += _git("ls-files", "--others", "--exclude-standard", "--", *WATCHED).stdout.split()
    return sorted(set(changed))


def _decide() -> str:
    flag = os.environ.get(ENV, "")
    if flag == "0":
        pytest.skip(f"{ENV}=0")
    if not sys.platform.startswith("linux"):
        pytest.skip("the bundle smoke test is Linux-only (Windows builds in .github/workflows/build.yml)")
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.skip("PyInstaller is not installed (pip install -e '.[build]')")
    if flag == "1":
        return f"{ENV}=1"
    changed = packaging_changes()
    if changed:
        return "packaging files changed: " + ", ".join(changed[:5])
    pytest.skip(f"packaging unchanged; set {ENV}=1 to build and smoke-test the bundle (about 2 minutes)")


@pytest.mark.slow
def test_bundle_builds_and_passes_the_smoke_test(tmp_path):
    reason = _decide()
    print(f"building the bundle ({reason})")
    dist, work = tmp_path / "dist", tmp_path / "work"
    build = subprocess.run([sys.executable, str(PACKAGING / "build.py"), "--dist", str(dist), "--work", str(work)],
                           cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-6000:]
    print(build.stdout[-1500:])
    bundle = dist / "fracture-triage"
    archives = list(dist.glob("fracture-triage-*-linux-*.tar.gz"))
    assert len(archives) == 1
    with tarfile.open(archives[0]) as tf:
        names = set(tf.getnames())
    assert {"fracture-triage/fracture-triage", "fracture-triage/install.sh",
            "fracture-triage/share/fracture-triage.desktop"} <= names
    assert not any(n.startswith(("fracture-triage/_internal/torch", "fracture-triage/_internal/core/training"))
                   for n in names)

    report = tmp_path / "smoke.json"
    smoke = subprocess.run([sys.executable, str(PACKAGING / "smoke.py"), "--bundle", str(bundle),
                            "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    print(smoke.stdout[-3000:])
    assert smoke.returncode == 0, smoke.stdout[-5000:] + smoke.stderr[-3000:]
    figures = json.loads(report.read_text())
    assert figures["failures"] == [] and figures["max_abs_diff"] <= 1e-5
