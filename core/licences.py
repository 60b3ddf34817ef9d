"""Licences: the app's own (GPL-3.0-or-later, ``LICENSE``) and the third-party notices for every
distribution the app ships with, generated from the installed distributions' metadata.

``licence_of(dist)`` reads, in this order, the SPDX ``License-Expression`` (PEP 639), a short
``License`` field, then the ``License ::`` trove classifiers; ``licence_files(dist)`` the licence and
notice texts the distribution ships (``LICENSE*``, ``LICENCE*``, ``COPYING*``, ``NOTICE*``,
``AUTHORS``, ``ThirdPartyNotices*``). ``notices(names)`` renders the notices file: one section per
distribution (name, version, licence, its texts), and raises ``UnknownLicence`` for a distribution
whose licence cannot be told — the bundle build stops on it (``packaging/build.py``).

The bundle carries the result as ``THIRD-PARTY-NOTICES.txt`` beside ``LICENSE``; a source install
generates it on demand over the app's runtime dependencies (``runtime_distributions``). The About
box shows both. Qt-free, standard library only.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Iterable, Optional

APP_LICENCE = "GPL-3.0-or-later"
APP_DISTRIBUTION = "fracture-triage"
NOTICES_NAME = "THIRD-PARTY-NOTICES.txt"
LICENCE_NAME = "LICENSE"
_TEXT_FILE = re.compile(r"^(licen[cs]e|copying|notice|authors|thirdpartynotices)", re.IGNORECASE)
_CLASSIFIER = {
    "MIT License": "MIT",
    "BSD License": "BSD",
    "Apache Software License": "Apache-2.0",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0",
    "GNU Library or Lesser General Public License (LGPL)": "LGPL",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "ISC License (ISCL)": "ISC",
    "The Unlicense (Unlicense)": "Unlicense",
    "zlib/libpng License": "Zlib",
}


class UnknownLicence(Exception):
    """A shipped distribution whose licence cannot be told from its metadata."""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def licence_of(dist: metadata.Distribution) -> Optional[str]:
    """The distribution's licence in words (an SPDX expression where it gives one), or None."""
    m = dist.metadata
    expr = (m.get("License-Expression") or "").strip()
    if expr:
        return expr
    field = (m.get("License") or "").strip()
    if field and len(field) <= 120 and "\n" not in field and field.upper() not in ("UNKNOWN", "NONE"):
        return field
    found = []
    for c in m.get_all("Classifier") or []:
        if c.startswith("License ::") and "Other/Proprietary" not in c:
            leaf = c.split("::")[-1].strip()
            found.append(_CLASSIFIER.get(leaf, leaf))
    if found:
        return " AND ".join(dict.fromkeys(found))
    if field:  # a long License field is usually the licence text itself
        first = field.splitlines()[0].strip()
        return first[:120] or None
    return None


def licence_files(dist: metadata.Distribution) -> list[Path]:
    out = []
    for f in dist.files or []:
        if _TEXT_FILE.match(f.name) and not f.name.endswith((".py", ".pyc")):
            p = Path(str(dist.locate_file(f)))
            if p.is_file():
                out.append(p)
    return sorted(set(out), key=lambda p: (len(p.parts), str(p)))


def runtime_distributions(root: str = APP_DISTRIBUTION) -> list[str]:
    """The app's runtime dependency closure (no extras), by distribution name, root excluded."""
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = _norm(dist.metadata["Name"])
        if key in seen:
            continue
        seen[key] = dist.metadata["Name"]
        for req in dist.requires or []:
            if "extra ==" in req.replace('"', "'").replace(" ", " "):
                continue
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
            if m:
                todo.append(m.group(1))
    seen.pop(_norm(root), None)
    return sorted(seen.values(), key=str.lower)


def notices(names: Iterable[str], *, extra_sections: Iterable[tuple[str, str]] = ()) -> str:
    """The third-party notices for these distributions (see the module docstring)."""
    sections, unknown = [], []
    for name in sorted(set(names), key=str.lower):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            unknown.append(f"{name} (not installed)")
            continue
        lic = licence_of(dist)
        if not lic:
            unknown.append(f"{dist.metadata['Name']} {dist.version}")
            continue
        body = [f"{dist.metadata['Name']} {dist.version}", f"Licence: {lic}"]
        home = dist.metadata.get("Home-page") or next(
            (u.split(",", 1)[1].strip() for u in dist.metadata.get_all("Project-URL") or [] if "," in u), "")
        if home:
            body.append(f"Project: {home}")
        files = licence_files(dist)
        if not files:
            body.append("(the distribution ships no licence text; the licence named above applies)")
        for f in files:
            try:
                text = f.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                continue
            body.append(f"--- {f.name} ---\n{text}")
        sections.append("\n".join(body))
    if unknown:
        raise UnknownLicence("no known licence for: " + ", ".join(unknown))
    for title, text in extra_sections:
        sections.append(f"{title}\n{text.strip()}")
    head = (f"Third-party software shipped with Fracture Triage (itself {APP_LICENCE}, see {LICENCE_NAME}).\n"
            f"{len(sections)} components. Generated from the installed distributions' metadata.\n")
    rule = "\n\n" + "=" * 78 + "\n\n"
    return head + rule + rule.join(sections) + "\n"


def find_file(name: str) -> Optional[Path]:
    """``LICENSE`` or the notices file: in the bundle / installed resources, else the checkout's root."""
    from core.resources import resource_path

    for candidate in (resource_path(name), Path(__file__).resolve().parent.parent / name):
        try:
            if candidate.is_file():
                return candidate
        except OSError:
            continue
    return None


def licence_text() -> str:
    path = find_file(LICENCE_NAME)
    return path.read_text(encoding="utf-8") if path else f"{APP_LICENCE}: https://www.gnu.org/licenses/gpl-3.0.html"


def notices_text() -> str:
    """The bundle's notices file, else notices generated now over the installed runtime dependencies."""
    path = find_file(NOTICES_NAME)
    if path is not None:
        return path.read_text(encoding="utf-8")
    try:
        return notices(runtime_distributions())
    except UnknownLicence as exc:
        return f"Third-party notices could not be generated: {exc}"
