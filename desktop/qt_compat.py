"""Guard against a reference-counting bug of PySide6 6.12.0 on Python 3.11.

The 6.12.0 wheels (abi3) return ``None``/``True``/``False`` from C++ methods without taking a new
reference, which is harmless on Python ≥ 3.12 (those objects are immortal there) but on 3.11 every call
of a void Qt method drops one reference to ``None`` (every emitted signal one to ``True``). After a few
tens of thousands of calls — a scan of a few thousand files, or some minutes of use — ``None``'s count
reaches zero and the interpreter aborts ("Fatal Python error: none_dealloc"). PySide6 6.11.x does not
have the bug; pinning ``PySide6-Essentials!=6.12.0`` is the real fix.

``protect()`` detects the leak with a few harmless calls and, only when it is present, gives those three
singletons a huge reference count — what Python 3.12 does by making them immortal. It changes nothing
on a correct PySide6 or on Python ≥ 3.12.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger("fracture_triage.desktop.qt_compat")
_BOOST = 1 << 40  # far more references than a process can ever drop


def leaks_references() -> bool:
    """True when calling a void PySide6 method drops a reference to ``None``."""
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(64):
        obj.setObjectName("probe")
    return sys.getrefcount(None) < before - 32


def protect() -> bool:
    """Apply the guard when needed; returns whether it was applied."""
    if not leaks_references():
        return False
    if getattr(sys, "_fracture_triage_refcount_guard", False):
        return True
    for singleton in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt: PyObject's first field
        refcnt.value += _BOOST
    sys._fracture_triage_refcount_guard = True  # type: ignore[attr-defined]
    import PySide6

    log.warning("PySide6 %s drops references on Python %s.%s; guard applied (install PySide6 != 6.12.0 to fix)",
                PySide6.__version__, *sys.version_info[:2])
    return True
