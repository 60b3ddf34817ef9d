"""The worklist's plain records and small helpers (Qt-free, no store): ``WorkItem`` (one row), the
filters (``FILTERS``, ``FILTER_TITLES``, ``matches``), what ``Worklist.load`` and ``Worklist.poll`` read
(``Snapshot``, ``Update``), a change notification (``Change``) and the one subscriber list
(``Subscribers``) used by the worklist and the review orders. ``core.worklist`` re-exports them.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Optional

OUT_OF_SCOPE = "out_of_scope"  # core.scope.verdict.OUT_OF_SCOPE (results-level constant, no import)

if TYPE_CHECKING:  # pragma: no cover
    from core.store import Decision

FILTERS = ("to_review", "flagged", "all", "decided", "doubt", "disagreements", "second_read", "disputed",
           "adjudicated", "out_of_scope", "errors")
FILTER_TITLES = {
    "to_review": "To review",
    "flagged": "Flagged",
    "all": "All",
    "decided": "Decided",
    "doubt": "Doubt",
    "disagreements": "Disagreements",
    "second_read": "Second read",
    "disputed": "Disputed",
    "adjudicated": "Adjudicated",
    "out_of_scope": "Out of scope",
    "errors": "Errors",
}


@dataclass(frozen=True, slots=True, weakref_slot=True)  # weakly referable: tests check rows are freed
class WorkItem:
    """One row. Slots and the path kept as text: a folder holds 100,000s of rows, and a ``__dict__``
    per row (~100 bytes) and a ``Path`` per row (~300 bytes with its parts) were a fifth of a large
    folder's memory; ``path`` makes the ``Path`` when asked."""

    image_id: Optional[str]  # None for a file that could not even be hashed
    path_text: str  # the file's absolute path (a Path given here is kept as its text)
    name: str
    probability: Optional[float]
    model_version: Optional[str]
    flag: Optional[str]  # 'definite' | 'suspicious' | None (model card thresholds)
    label: Optional[str]  # current decision: 'fracture' | 'no_fracture' | 'doubt' | None
    reviewer: Optional[str]
    decided_at: Optional[datetime]
    body_part: Optional[str]
    view: Optional[str]
    error: Optional[str]  # why the file could not be read (errors only)
    error_kind: Optional[str] = None
    reading: Optional[str] = None  # among all readers: single / agreed / disputed / adjudicated (None: unread)
    note: Optional[str] = None  # the reader's caveats for a readable image ("first page of 3 (multi-page TIFF)")
    scope: Optional[str] = None  # the model's verdict: 'in_scope' | 'out_of_scope' | None (not assessed)
    scope_reason: Optional[str] = None
    scope_marked_by: Optional[str] = None  # a reader who marked it "in scope after all" (mark in force)
    scope_marked_at: Optional[datetime] = None
    settled: bool = False  # nothing left for this reader without a label of their own (core.reading)
    held: bool = False  # another reader has it open now (an unexpired claim): "next" skips it
    readers_text: Optional[str] = None  # adjudicators only: each reader's label ("A: fracture · B: doubt")
    study: Optional[str] = None  # pseudonymous study key (core.studies); None without StudyKeys
    study_kind: Optional[str] = None  # 'dicom' | 'folder' | 'name_prefix' | 'file'

    is_study = False

    def __post_init__(self) -> None:
        if not isinstance(self.path_text, str):
            object.__setattr__(self, "path_text", str(self.path_text))

    @property
    def path(self) -> Path:
        return Path(self.path_text)

    @property
    def out_of_scope(self) -> bool:
        """Out of the model's scope and not marked "in scope after all" by a reader."""
        return self.error is None and self.scope == OUT_OF_SCOPE and self.scope_marked_by is None

    @property
    def to_review(self) -> bool:
        return self.error is None and self.label is None and not self.out_of_scope and not self.settled

    @property
    def disagrees(self) -> bool:
        """The decision contradicts the model's flag (fracture without a flag, or no fracture with one)."""
        if self.out_of_scope:  # no flag to disagree with
            return False
        if self.label == "fracture":
            return self.flag is None
        if self.label == "no_fracture":
            return self.flag is not None
        return False


ERROR_FILTERS = frozenset(("all", "errors"))  # the only filters that list files that could not be read


def matches(item: WorkItem, name: str) -> bool:
    if item.error is not None:
        return name in ERROR_FILTERS
    if name in ERROR_FILTERS:
        return name == "all"
    if name == "out_of_scope":
        return item.out_of_scope
    if name == "to_review":
        return item.to_review
    if name == "flagged":
        return item.flag is not None
    if name == "decided":
        return item.label is not None
    if name == "doubt":
        return item.label == "doubt"
    if name == "disagreements":
        return item.disagrees
    if name == "second_read":
        return item.reading == "single"
    if name == "disputed":
        return item.reading == "disputed"
    if name == "adjudicated":
        return item.reading == "adjudicated"
    raise ValueError(f"unknown filter {name!r}; one of {', '.join(FILTERS)}")


@dataclass(frozen=True)
class Snapshot:
    """What ``Worklist.load`` read from the store (plain data: safe to pass between threads)."""

    rows: list  # core.store.ImageRow
    labels: Mapping[str, "Decision"]
    errors: list  # core.store.ErrorRow
    readings: Mapping[str, str] = field(default_factory=dict)  # image id -> reading status (several readers)
    others: Mapping[str, str] = field(default_factory=dict)  # image id -> readers' labels (adjudicators)
    last_event: int = 0  # the newest decision event when it was read (live updates start after it)
    held: frozenset = frozenset()  # image ids other readers have open
    prepared: Optional["_Prepared"] = None  # the rows built and sorted by ``load`` (off the GUI thread)


SEQ = operator.itemgetter(-1)  # a sort key's seq: unique per row, what ``_key_of`` is keyed by
# Sort keys and row keys of more rows than this are handled by Python loops or numpy, which let other
# threads run, not by one C call: a single sorted() or list(map(...)) over 100,000 rows holds the GIL
# for 80-140 ms, and the GUI thread waits that long (a re-opened folder's listing runs on a worker).
BULK_ROWS = 20_000


def sort_keys(keys: list[tuple]) -> list[tuple]:
    """``sorted(keys)`` for sort keys ``(group, float, seq)`` (``seq`` unique); above ``BULK_ROWS`` keys
    the sorting is numpy's (``lexsort`` runs without the GIL), the same order."""
    if len(keys) <= BULK_ROWS:
        return sorted(keys)
    import numpy as np

    n = len(keys)
    groups = np.fromiter((k[0] for k in keys), np.int64, n)
    values = np.fromiter((k[1] for k in keys), np.float64, n)
    seqs = np.fromiter((k[2] for k in keys), np.int64, n)
    return [keys[i] for i in np.lexsort((seqs, values, groups)).tolist()]


def view_keys(view: list, key_of: dict, items: dict, errors_shown: bool) -> list[str]:
    """The row keys of ``view`` (sort keys) in order; an unreadable file's row by its path when
    ``errors_shown`` (the filters that list them). A loop, not one C call, above ``BULK_ROWS``."""
    if len(view) <= BULK_ROWS:
        keys = list(map(key_of.__getitem__, map(SEQ, view)))
    else:
        keys = [key_of[sk[-1]] for sk in view]
    if errors_shown:
        keys = [items[k].path_text if k.startswith(ERROR_KEY_PREFIX) else k for k in keys]
    return keys


@dataclass(frozen=True)
class _Prepared:
    """Everything ``apply`` installs, built where ``load`` ran: rows, sort keys, counts, the view."""

    filter: str
    items: dict
    sk: dict
    key_of: dict
    all: list
    counts: dict
    seq: int
    view: list
    facts: tuple = (0, 0)  # rows with a note, rows with a body part or view (``tally``)
    keys: Optional[list] = None  # ``view_keys`` of ``view`` (None: listed when first asked)


@dataclass(frozen=True)
class Update:
    """What ``Worklist.poll`` read: other readers' decisions since an event id, and who holds what."""

    last_event: int
    image_ids: tuple  # images with new events
    labels: Mapping[str, "Decision"]
    readings: Mapping[str, str]
    others: Mapping[str, str]
    held: frozenset
    local_seq: int  # the worklist's own-decision counter when the poll began


@dataclass(frozen=True)
class Change:
    kind: str  # 'reset' | 'inserted' | 'removed' | 'updated'
    first: int = 0
    last: int = -1

    @property
    def rows(self) -> range:
        return range(self.first, self.last + 1)


def _reading_after(decision: "Decision", before: Optional[str]) -> Optional[str]:
    """The image's reading status after ``decision`` (the store attaches it; None there: unknown)."""
    reading = getattr(decision, "reading", None)
    if reading is None:
        return before
    return None if reading == "unread" else reading


ERROR_KEY_PREFIX = "error:"  # how the worklist keys the row of a file that could not be read


def _error_key(path: Path | str) -> str:
    return ERROR_KEY_PREFIX + str(path)


def tally(counts: dict[str, int], facts: list[int], item: WorkItem, delta: int) -> None:
    """Count ``item`` (``delta`` +1 or -1) in each filter it matches, and in ``facts``: [rows with a
    reader's note, rows with a body part or view] — so a table knows at once whether those columns
    have anything to show. The one counting rule of a bulk build and of each row put or removed."""
    for name in FILTERS:
        if matches(item, name):
            counts[name] += delta
    if item.error is None and item.note:
        facts[0] += delta
    if item.body_part or item.view:
        facts[1] += delta


class Subscribers:
    """Callbacks told of each notification (the worklist's and the review orders' ``Change``, the
    worklist's row watch)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., None]] = []

    def add(self, callback: Callable[..., None]) -> Callable[[], None]:
        """Subscribe ``callback``; returns the function that unsubscribes it. Once called, that function
        lets go of the callback: a subscriber that keeps it (to unsubscribe on close) is then not kept
        alive by it, and no cycle holds its rows."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            nonlocal callback
            if callback is not None and callback in self._callbacks:
                self._callbacks.remove(callback)
            callback = None

        return unsubscribe

    def emit(self, *args) -> None:
        for cb in list(self._callbacks):
            cb(*args)


