"""Fracture Triage core: Qt-free domain logic (imaging, scanning, model, store, worklist, export).

Nothing under ``core`` may import Qt or ``desktop``; ``tests/core/test_layering.py`` checks it.
"""

from __future__ import annotations

APP_NAME = "Fracture Triage"
DIST_NAME = "fracture-triage"


def app_version() -> str:
    """The installed distribution's version (falls back to pyproject's when run from a bare checkout)."""
    from importlib import metadata as _metadata  # not at import: it costs start-up time

    try:
        return _metadata.version(DIST_NAME)
    except _metadata.PackageNotFoundError:  # a PyInstaller bundle or a checkout that was never installed
        from core.resources import bundled_version

        return bundled_version()


__all__ = ["APP_NAME", "DIST_NAME", "app_version"]
