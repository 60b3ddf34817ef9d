"""pytest plugin that makes PySide6 unimportable, to prove the ``core`` tests need no Qt.

Used as ``python -m pytest -p no:pytestqt -p tests.block_qt tests/core`` (see
``tests/core/test_layering.py``), the same check as napari's headless test run.
"""

from __future__ import annotations

import importlib.abc
import sys


class _NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6", "desktop"):
            raise ImportError(f"{name} is blocked: core must work without PySide6")
        return None


for _name in [m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6")]:
    del sys.modules[_name]
sys.meta_path.insert(0, _NoQt())
