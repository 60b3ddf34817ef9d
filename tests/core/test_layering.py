"""One-way dependencies, declared in ``pyproject.toml`` ([tool.importlinter]): ``core`` never imports Qt
or ``desktop``, and the layers inside ``core`` import only downwards. ``.ci/run`` also runs the core
tests in an environment where PySide6 is not installed at all."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    importlinter = pytest.importorskip("importlinter", reason="import-linter is in the test extra")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, f"lint-imports not found beside {sys.executable} (import-linter {importlinter.__name__} installed)"
    out = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


BLOCKER = r"""
import importlib.abc, sys
class _NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'shiboken6'):
            raise ImportError(f'{name} is blocked: core must work without PySide6')
        return None
sys.meta_path.insert(0, _NoQt())
import pkgutil, importlib, core
for m in pkgutil.walk_packages(core.__path__, 'core.'):
    if m.name.startswith('core.training'):
        continue  # torch-only, checked by the training tests
    importlib.import_module(m.name)
assert not any(k.startswith(('PySide6', 'desktop')) for k in sys.modules)
print('ok')
"""


def test_every_core_module_imports_without_pyside6():
    """Also catches imports the contracts cannot see (inside functions that run at import time)."""
    out = subprocess.run([sys.executable, "-c", BLOCKER], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
