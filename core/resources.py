"""The one resource-path helper: finds ``resources/`` from a source checkout, an installed wheel and a
PyInstaller bundle, and the default model inside it.

``resources`` is a package (it has an ``__init__.py``) so a wheel carries it as package data; a
PyInstaller build copies the folder to ``<bundle>/resources`` (``sys._MEIPASS``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_OVERRIDE = "FRACTURE_TRIAGE_RESOURCES"


def resources_dir() -> Path:
    """Directory holding ``models/`` and ``icons/``.

    Order: the ``FRACTURE_TRIAGE_RESOURCES`` environment variable (tests, unusual installs), a frozen
    bundle's ``sys._MEIPASS/resources``, then the ``resources`` package wherever Python imports it from
    (a source checkout or site-packages).
    """
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        return Path(override)
    meipass = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and meipass:
        return Path(meipass) / "resources"
    import resources  # the package next to core/ in a checkout, or in site-packages

    return Path(resources.__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """Path of a file under ``resources/`` (it may not exist; callers say so clearly)."""
    return resources_dir().joinpath(*parts)


def models_dir() -> Path:
    return resource_path("models")


def icon_path(name: str) -> Path:
    return resource_path("icons", name)


def bundled_version() -> str:
    """Version written into the bundle at build time (``resources/VERSION``), else ``0+unknown``."""
    p = resource_path("VERSION")
    try:
        return p.read_text(encoding="utf-8").strip() or "0+unknown"
    except OSError:
        return "0+unknown"
