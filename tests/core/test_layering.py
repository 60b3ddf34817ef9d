"""One-way dependencies: ``core`` never imports Qt or ``desktop``, and imports with PySide6 absent."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("PySide6", "shiboken6", "desktop")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_core_never_imports_qt_or_desktop():
    offenders = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


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
    out = subprocess.run([sys.executable, "-c", BLOCKER], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_core_test_suite_passes_without_pyside6():
    """Run the whole core test suite in a fresh interpreter where PySide6 cannot be imported."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:pytest-qt", "-p", "tests.block_qt",
           "-p", "no:cacheprovider", "tests/core", "--deselect",
           "tests/core/test_layering.py::test_core_test_suite_passes_without_pyside6"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    tail = "\n".join(out.stdout.splitlines()[-15:])
    assert out.returncode == 0, f"core tests failed without PySide6:\n{tail}\n{out.stderr[-2000:]}"
    assert " passed" in tail
