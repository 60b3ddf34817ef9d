"""The clinic's confirmed labels as arrays for one model version: which images count (a current
decision of ``fracture`` / ``no_fracture``, optionally made since a date, with a stored score of that
version), which do not and why (doubt, no score of that version, out of the model's scope: the scope gate
withheld the score from the worklist and no reader marked the image in scope after all), the bootstrap groups (the DICOM
study where known, else the image itself), and the minimum-count rule every figure obeys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Optional, Sequence

import numpy as np

MIN_FRACTURES = 20
MIN_NON_FRACTURES = 20


@dataclass(frozen=True)
class LabelledSet:
    model_version: str
    image_ids: list[str]
    y: np.ndarray  # 1 = fracture
    p: np.ndarray  # the version's probability
    groups: np.ndarray  # bootstrap groups (study UID, else image id)
    body_part: list[Optional[str]]
    view: list[Optional[str]]
    month: list[str]  # 'YYYY-MM' of the decision
    paths: list[Optional[str]]
    doubt: int = 0  # current decision 'doubt' (excluded)
    unscored: int = 0  # fracture/no_fracture but no score of this version (excluded)
    before_since: int = 0  # decided before --since (excluded)
    out_of_scope: int = 0  # the version's scope gate put it out of scope, no "in scope after all" mark (excluded)
    counts_note: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def fractures(self) -> int:
        return int(self.y.sum())

    @property
    def non_fractures(self) -> int:
        return int(len(self.y) - self.y.sum())

    def counts(self) -> dict:
        return {"images": self.n, "fracture": self.fractures, "no_fracture": self.non_fractures,
                "doubt_excluded": self.doubt, "without_score_excluded": self.unscored,
                "before_since_excluded": self.before_since, "out_of_scope_excluded": self.out_of_scope}

    def subset(self, mask: np.ndarray) -> "LabelledSet":
        idx = np.flatnonzero(mask)
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return LabelledSet(self.model_version, pick(self.image_ids), self.y[idx], self.p[idx], self.groups[idx],
                           pick(self.body_part), pick(self.view), pick(self.month), pick(self.paths))


def enough(y: np.ndarray, min_fractures: int = MIN_FRACTURES, min_non: int = MIN_NON_FRACTURES) -> bool:
    """The minimum-count rule: no figure is reported on fewer labels than this."""
    pos = int(np.sum(y))
    return pos >= min_fractures and len(y) - pos >= min_non


def not_enough_message(y: np.ndarray, min_fractures: int = MIN_FRACTURES, min_non: int = MIN_NON_FRACTURES) -> str:
    pos = int(np.sum(y))
    return (f"not enough labels yet: {pos} fractures and {len(y) - pos} non-fractures confirmed; "
            f"figures need at least {min_fractures} of each")


def parse_since(text: Optional[str]) -> Optional[datetime]:
    """``YYYY-MM-DD`` (UTC midnight) → aware datetime; None passes through."""
    if not text:
        return None
    try:
        d = date.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError(f"--since must be a date like 2026-01-31, not {text!r}") from None
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def build(labelled: Sequence, model_version: str, since: Optional[datetime] = None) -> LabelledSet:
    """From ``Store.labelled_images()`` rows to arrays for ``model_version``."""
    ids, ys, ps, groups, parts, views, months, paths = [], [], [], [], [], [], [], []
    doubt = unscored = before = gated = 0
    for r in labelled:
        if since is not None and r.decided_at < since:
            before += 1
            continue
        if r.label == "doubt":
            doubt += 1
            continue
        if r.label not in ("fracture", "no_fracture"):
            continue
        p = r.scores.get(model_version)
        if p is None or not np.isfinite(p):
            unscored += 1
            continue
        if model_version in getattr(r, "out_of_scope", ()):
            gated += 1
            continue
        ids.append(r.image_id)
        ys.append(1 if r.label == "fracture" else 0)
        ps.append(float(p))
        groups.append("study:" + r.study_uid if r.study_uid else "image:" + r.image_id)
        parts.append((r.body_part or "").strip().upper() or None)
        views.append((r.view or "").strip().upper() or None)
        months.append(r.decided_at.strftime("%Y-%m"))
        paths.append(r.path)
    return LabelledSet(model_version, ids, np.asarray(ys, dtype=int), np.asarray(ps, dtype=float),
                       np.asarray(groups, dtype=object), parts, views, months, paths,
                       doubt=doubt, unscored=unscored, before_since=before, out_of_scope=gated)


def versions_scored(labelled: Sequence) -> list[str]:
    """Model versions with a stored score on at least one labelled image (sorted)."""
    return sorted({v for r in labelled for v in r.scores})
