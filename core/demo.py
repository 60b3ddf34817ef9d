"""The demo folder: real radiographs from the ``pydicom-data`` package (an optional dependency, MIT
licence) copied into the user data directory, so a new user sees the app working at once.

CR chest (RG1) and CR tibia (RG3), each uncompressed and JPEG 2000 (lossless and lossy), MONOCHROME1;
the DICOM files keep their synthetic test-patient headers, which the app shows on screen only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from core.paths import app_dirs

DEMO_FILES = ("RG1_UNCR.dcm", "RG1_J2KR.dcm", "RG1_J2KI.dcm", "RG3_UNCR.dcm", "RG3_J2KR.dcm", "RG3_J2KI.dcm",
              "RG1_UNCI.dcm", "RG3_UNCI.dcm")


class DemoUnavailable(Exception):
    """The demo cannot be built; ``str()`` says what to install."""


def demo_dir() -> Path:
    return app_dirs().data / "demo"


def _source(name: str) -> Path | None:
    try:
        from pydicom.data import get_testdata_file
    except ImportError:
        return None
    try:
        found = get_testdata_file(name, download=False)
    except TypeError:  # older pydicom without the download argument
        found = get_testdata_file(name)
    except Exception:  # noqa: BLE001 - a missing data package reports in many ways
        return None
    return Path(found) if found else None


def build_demo_folder(target: Path | None = None) -> Path:
    """Copy the demo radiographs into ``target`` (default: ``<data>/demo``) and return it."""
    target = Path(target) if target is not None else demo_dir()
    try:
        import data_store  # noqa: F401  (the module the pydicom-data package installs)
    except ImportError:
        raise DemoUnavailable(
            "The demo images come from the optional 'pydicom-data' package, which is not installed.\n\n"
            "Install it with:  pip install pydicom-data   (or: pip install 'fracture-triage[demo]')\n"
            "then choose File › Open the demo images again.") from None
    sources = [(n, _source(n)) for n in DEMO_FILES]
    sources = [(n, p) for n, p in sources if p is not None and p.is_file()]
    if not sources:
        raise DemoUnavailable("The 'pydicom-data' package is installed but holds none of the demo radiographs "
                              f"({', '.join(DEMO_FILES)}). Reinstall it with: pip install --force-reinstall pydicom-data")
    target.mkdir(parents=True, exist_ok=True)
    for name, src in sources:
        dst = target / name
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            tmp = target / f".{name}.partial"  # hidden: never scanned
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
    return target
