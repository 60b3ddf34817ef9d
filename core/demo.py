"""The demo folder, copied into the user data directory so a new user sees the app working at once:

* twelve FracAtlas radiographs shipped with the app in ``resources/demo`` (CC BY 4.0, credited in the
  README and the About box): hands, legs, a hip and a shoulder, six of them fractured, so fractures
  rise to the top of the worklist with their heatmaps;
* the real films of the ``pydicom-data`` package (an optional dependency, MIT licence) when installed:
  CR chest (RG1) and CR tibia (RG3), each uncompressed and JPEG 2000, MONOCHROME1. The chest films
  are out of the model's scope and show so ("chest radiograph"), below every in-scope image. The
  DICOM files keep their synthetic test-patient headers, which the app shows on screen only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from core.paths import app_dirs

FRACATLAS_CREDIT = ("FracAtlas (Abedeen et al., Scientific Data 10, 521, 2023; doi:10.6084/m9.figshare.22363012), "
                    "CC BY 4.0")
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


def bundled_radiographs() -> list[Path]:
    """The FracAtlas radiographs shipped in ``resources/demo``."""
    from core.resources import resource_path

    folder = resource_path("demo")
    try:
        return sorted(p for p in folder.glob("*.jpg") if p.is_file())
    except OSError:
        return []


def build_demo_folder(target: Path | None = None) -> Path:
    """Copy the demo radiographs into ``target`` (default: ``<data>/demo``) and return it."""
    target = Path(target) if target is not None else demo_dir()
    sources = [(p.name, p) for p in bundled_radiographs()]
    try:
        import data_store  # noqa: F401  (the module the pydicom-data package installs)
        films = [(n, _source(n)) for n in DEMO_FILES]
        sources += [(n, p) for n, p in films if p is not None and p.is_file()]
    except ImportError:
        pass  # the bundled radiographs alone make the demo
    if not sources:
        raise DemoUnavailable(
            "The demo radiographs are missing from this installation (resources/demo), and the optional "
            "'pydicom-data' package is not installed.\n\nInstall it with:  pip install pydicom-data   "
            "(or reinstall the app), then choose File › Open the demo images again.")
    target.mkdir(parents=True, exist_ok=True)
    for name, src in sources:
        dst = target / name
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            tmp = target / f".{name}.partial"  # hidden: never scanned
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
    return target
