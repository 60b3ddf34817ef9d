"""The Qt binding in use must not leak references (PySide6 6.12.0 on Python 3.11 drops a reference
to None per void call and aborts the app after a long scan; pyproject pins it out)."""

import sys

from PySide6.QtCore import QObject


def test_void_qt_calls_do_not_leak_none():
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(500):
        obj.setObjectName("probe")
    assert sys.getrefcount(None) >= before - 10
