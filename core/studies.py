"""Studies: which images belong together (the views of one examination), the pseudonymous study key
they are shown and exported under, and the study score made from the views' scores.

**Grouping rule** (``study_source``), one per image:

* a DICOM image with a StudyInstanceUID belongs to that study (its series are kept apart only in the
  image rows; the study is the unit read);
* any other image (JPEG/PNG/TIFF/BMP, or a DICOM file without the UID) by the ``study_grouping``
  setting: ``folder`` (default: every file of one folder is one study — PACS and modality exports
  usually write one folder per study), ``name_prefix`` (files of one folder whose names share the part
  before the last ``_``, ``-`` or space: ``0042_AP.jpg`` and ``0042_LAT.jpg``), or ``file`` (every file
  is its own study: a flat folder of many patients).

**Study key** (``study_key``): the first 12 hex digits of HMAC-SHA256, keyed with the database's
own random export secret, of the rule's source text (``dicom:<UID>``, ``folder:<path>``, …). It is
stable for one database (the table, the scan CSV and every export agree) and names neither the
patient, nor the UID, nor the folder: without the secret it cannot be linked back.

**Study score** (``study_score``): ``max`` of the views' probabilities (default: a fracture seen on one
view decides the study, and the model card's image thresholds keep their meaning for the study) or
``noisy_or`` (1 − Π(1 − pᵢ), which treats the views as independent evidence; measured against max in
``tests/benchmarks/bench_study_score.py``).

**Study label** (``study_label``): fracture once any view is decided fracture; otherwise, once every
readable view is decided, doubt if any is doubt, else no fracture; otherwise none yet.

``StudyItem`` is one worklist row in the study mode (``core.study_order``): it carries the attributes a
table shows for an image (name, probability, flag, label, reviewer, body part / view, error), so the
review order's column sorts and the desktop table treat both kinds of row alike.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

GROUPINGS = ("folder", "name_prefix", "file")
GROUPING_TITLES = {
    "folder": "one study per folder",
    "name_prefix": "one study per file-name prefix within a folder (the part before the last _ - or space)",
    "file": "every file is its own study",
}
SCORE_METHODS = ("max", "noisy_or")
KEY_HEX = 12
STUDY_PREFIX = "study:"  # the row key of a study row (``core.order.row_key``)
_SEPARATORS = re.compile(r"[_\- ]")


def name_prefix(name: str) -> str:
    """The part of a file name before its last ``_``, ``-`` or space (the whole stem without one)."""
    stem = Path(name).stem
    cut = max((m.start() for m in _SEPARATORS.finditer(stem)), default=-1)
    return stem[:cut] if cut > 0 else stem


def study_source(path: Path | str, study_uid: Optional[str], grouping: str = "folder") -> tuple[str, str]:
    """(kind, source text) of the image's study: kind is ``dicom`` or the grouping used."""
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown study grouping {grouping!r}; one of {', '.join(GROUPINGS)}")
    uid = (study_uid or "").strip()
    if uid:
        return "dicom", "dicom:" + uid
    if grouping == "folder":  # the parent as Path.parent gives it, without making Path objects (10,000s of rows)
        return "folder", "folder:" + (os.path.dirname(os.fspath(path)) or ".")
    p = Path(path)
    if grouping == "name_prefix":
        return "name_prefix", "prefix:" + str(p.parent / name_prefix(p.name))
    return "file", "file:" + str(p)


def study_key(secret: bytes, source: str) -> str:
    """The pseudonymous key of a study source (see the module docstring)."""
    return hmac.new(secret, b"study\x00" + source.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:KEY_HEX]


class StudyKeys:
    """Study keys of images under one secret and grouping rule (memoised: a folder's files share one)."""

    def __init__(self, secret: bytes, grouping: str = "folder") -> None:
        if grouping not in GROUPINGS:
            raise ValueError(f"unknown study grouping {grouping!r}; one of {', '.join(GROUPINGS)}")
        self.secret = secret
        self.grouping = grouping
        self._memo: dict[str, tuple[str, str]] = {}

    def of(self, path: Path | str, study_uid: Optional[str] = None) -> tuple[str, str]:
        """(key, kind) of the image at ``path`` (with its StudyInstanceUID, if DICOM)."""
        kind, source = study_source(path, study_uid, self.grouping)
        hit = self._memo.get(source)
        if hit is None:
            hit = self._memo[source] = (study_key(self.secret, source), kind)
        return hit

    def key(self, path: Path | str, study_uid: Optional[str] = None) -> str:
        return self.of(path, study_uid)[0]


def _valid(p: Optional[float]) -> bool:
    return p is not None and not math.isnan(p)


def study_score(probabilities: Iterable[Optional[float]], method: str = "max") -> Optional[float]:
    """The study's score from its views' probabilities (views without one are left out; None when no
    view has one)."""
    ps = [float(p) for p in probabilities if _valid(p)]
    if not ps:
        return None
    if method == "max":
        return max(ps)
    if method == "noisy_or":
        q = 1.0
        for p in ps:
            q *= 1.0 - min(1.0, max(0.0, p))
        return 1.0 - q
    raise ValueError(f"unknown study score {method!r}; one of {', '.join(SCORE_METHODS)}")


def study_label(labels: Iterable[Optional[str]]) -> Optional[str]:
    """The study's label from its readable views' current labels (see the module docstring)."""
    labels = list(labels)
    if "fracture" in labels:
        return "fracture"
    if not labels or any(x is None for x in labels):
        return None
    return "doubt" if "doubt" in labels else "no_fracture"


def _joined(values: Iterable[Optional[str]]) -> Optional[str]:
    out: list[str] = []
    for v in values:
        if v and v not in out:
            out.append(v)
    return ", ".join(out) or None


@dataclass(frozen=True)
class StudyItem:
    """One study row: its views (worklist items, highest score first) and what the table shows."""

    key: str
    kind: str  # 'dicom' | 'folder' | 'name_prefix' | 'file'
    views: tuple  # core.worklist.WorkItem, in the worklist's order
    probability: Optional[float]  # the study score
    flag: Optional[str]  # of the study score, by the active thresholds (never for an out-of-scope study)
    method: str = "max"

    is_study = True
    image_id = None
    note = None
    scope = None
    scope_reason = None
    scope_marked_by = None
    scope_marked_at = None
    model_version = None
    settled = False
    readers_text = None

    @property
    def row_key(self) -> str:
        return STUDY_PREFIX + self.key

    @property
    def name(self) -> str:
        return f"Study {self.key}"

    @property
    def readable(self) -> tuple:
        return tuple(v for v in self.views if v.error is None)

    @property
    def path(self) -> Path:
        return self.views[0].path if self.views else Path()

    @property
    def label(self) -> Optional[str]:
        return study_label(v.label for v in self.readable)

    @property
    def decided_views(self) -> int:
        return sum(1 for v in self.readable if v.label is not None)

    @property
    def reviewer(self) -> Optional[str]:
        return _joined(v.reviewer for v in self.readable)

    @property
    def decided_at(self):  # noqa: ANN201 - datetime | None
        times = [v.decided_at for v in self.readable if v.decided_at is not None]
        return max(times) if times else None

    @property
    def body_part(self) -> Optional[str]:
        return _joined(v.body_part for v in self.readable)

    @property
    def view(self) -> Optional[str]:
        return _joined(v.view for v in self.readable)

    @property
    def error(self) -> Optional[str]:
        """Set only when no view of the study could be read."""
        if self.views and not self.readable:
            n = len(self.views)
            return f"none of its {n} file{'s' if n != 1 else ''} could be read"
        return None

    @property
    def out_of_scope(self) -> bool:
        r = self.readable
        return bool(r) and all(v.out_of_scope for v in r)

    @property
    def to_review(self) -> bool:
        return any(v.to_review for v in self.views)

    @property
    def held(self) -> bool:
        """A view still to review is open at another reader's workstation ("next" skips the study: a
        study is claimed whole, ``desktop.live``, so another reader's view keeps this reader off it)."""
        return any(v.held for v in self.views if v.to_review)

    @property
    def reading(self) -> Optional[str]:
        return None

    @property
    def disagrees(self) -> bool:
        return any(v.disagrees for v in self.views)

    @property
    def decidable(self) -> tuple:
        """The views a decision on the study records a label for: every readable view with an image id."""
        return tuple(v for v in self.readable if v.image_id)
