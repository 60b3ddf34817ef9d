"""The Qt binding in use must not leak references (PySide6 6.12.0 on Python 3.11 drops a reference
to None per void call and aborts the app after a long scan; pyproject pins it out)."""

import sys
from importlib import metadata

import pytest
from PySide6.QtCore import QObject


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal on Python 3.12+: its reference "
                    "count cannot show the leak (the version pin below still applies)")
def test_void_qt_calls_do_not_leak_none():
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(500):
        obj.setObjectName("probe")
    assert sys.getrefcount(None) >= before - 10


def test_installed_pyside6_is_within_the_pin():
    """pyproject.toml pins PySide6-Essentials < 6.12 (the leaking release); what is installed obeys it."""
    from packaging.version import Version  # noqa: PLC0415 - the 'packaging' distribution (pip's), not ours

    try:
        installed = Version(metadata.version("PySide6-Essentials"))
    except metadata.PackageNotFoundError:
        pytest.skip("PySide6 installed without the PySide6-Essentials distribution metadata")
    assert Version("6.6") <= installed < Version("6.12"), f"PySide6-Essentials {installed} is outside the pin"
