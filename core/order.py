"""``ReviewOrder``: the order the reviewer goes through the worklist — THE one owner of "which row is
where" and "which image is next". The desktop table displays it row by row (keeping no copy) and
the triage moves through it.

* **Order**: the worklist's own (probability, highest first) or, after ``set_sort(column,
  descending)``, sorted by one column (``SORT_COLUMNS``); ties keep the worklist's order in both
  directions. Under a sort, rows are placed by ``bisect`` as the worklist changes (no re-sort).
  ``sort_job`` / ``install_sort`` work a new sort out on another thread (it reads a copy of the rows)
  and install it here, so a header click on 100,000 rows does not hold the GUI thread.
* **Row key** (``row_key``): the image id, or the path of a file that could not be read — the one
  way a row is named anywhere (table, session, triage).
* **Navigation**: ``next``/``previous`` (clamped) and ``next_to_review`` (the first row at or after
  a row that still needs review, wrapping to the top; ``skip`` leaves one image out; an image another
  reader has open — ``WorkItem.held``, a claim — is skipped too, so two readers get different images).
* **Blinded reading** (``core.reading``): a sort by a column that tells the model (probability, flag)
  is not offered — asking for one gives the worklist's own (random) order.
* **Notifications**: ``subscribe(callback)`` gets ``core.worklist.Change`` objects in THIS order's row
  numbers, after each change (same contract as ``Worklist``).

Not thread-safe: use it from one thread (the GUI thread), like the worklist under it.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional

from core.reading import MODEL_COLUMNS
from core.work_items import BULK_ROWS
from core.worklist import Change, Subscribers, WorkItem, Worklist

FLAG_RANK = {"definite": 2, "suspicious": 1}


def row_key(item: WorkItem) -> str:
    """How a row is named: its image id, or the path of a file that could not be read (a study row of
    the study mode: ``study:<key>``, ``core.studies.StudyItem.row_key``)."""
    if item.is_study:
        return item.row_key  # type: ignore[attr-defined]
    return item.image_id if item.error is None and item.image_id else str(item.path)


def _text(value: Optional[str]) -> str:
    return (value or "").lower()


SORT_COLUMNS: dict[str, Callable[[WorkItem], Any]] = {
    "name": lambda it: _text(it.name),
    "probability": lambda it: -1.0 if it.probability is None else float(it.probability),
    "flag": lambda it: FLAG_RANK.get(it.flag or "", 0),
    "label": lambda it: _text(it.label),
    "reviewer": lambda it: _text(it.reviewer),
    "body": lambda it: " / ".join(x for x in (it.body_part, it.view) if x).lower(),
    "error": lambda it: _text(it.error),
}


def new_sort(column: Optional[str], descending: bool, current: tuple, blinded: bool) -> Optional[tuple]:
    """The (column, descending) a request to sort by ``column`` leads to, or None when it changes nothing.
    Raises ValueError for an unknown column; under blinded reading a model column means no sort (no
    order that would tell the model's score)."""
    if column is not None and column not in SORT_COLUMNS:
        raise ValueError(f"unknown sort column {column!r}; one of {', '.join(SORT_COLUMNS)}")
    if column in MODEL_COLUMNS and blinded:
        column = None
    if (column, bool(descending)) == tuple(current) or (column is None and current[0] is None):
        return None
    return column, bool(descending) if column is not None else False


class _Desc:
    """A sort value compared in reverse (descending columns keep ascending tie-breaks)."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: "_Desc") -> bool:
        return other.v < self.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.v == other.v

    def __hash__(self) -> int:  # pragma: no cover - not used as a dict key
        return hash(self.v)


SORT_CHUNK = 5_000  # a column sort of more than BULK_ROWS rows sorts chunks of this many, then merges them


def sort_entries(entries: Iterable[tuple]) -> list[tuple]:
    """``sorted(entries)`` for (sort value, rank, key) entries (ranks unique); for descending values
    (``_Desc``) the same order without calling ``_Desc.__lt__`` at each comparison (3–5x faster on 10,000
    rows): a sort by rank, then a stable sort by the value, reversed (Python's reversed sort keeps equal
    items in their order, so ties stay in rank order). Above ``BULK_ROWS`` entries the value sort runs
    on chunks of ``SORT_CHUNK`` merged by ``heapq.merge``: one ``list.sort`` of 100,000 entries holds
    the GIL for 110–140 ms (the GUI thread waits), a chunk's for a few ms."""
    rows = list(entries)
    if not rows:
        return rows
    desc = isinstance(rows[0][0], _Desc)
    if desc:
        rows.sort(key=_rank)  # entries come in rank order: one pass
    if len(rows) <= BULK_ROWS:
        if desc:
            rows.sort(key=_desc_value, reverse=True)
        else:
            rows.sort()
        return rows
    chunks = [rows[i:i + SORT_CHUNK] for i in range(0, len(rows), SORT_CHUNK)]
    for chunk in chunks:
        if desc:
            chunk.sort(key=_desc_value, reverse=True)
        else:
            chunk.sort()
    if desc:  # equal values: the earlier chunk (lower ranks) first, as heapq.merge keeps its inputs' order
        return list(heapq.merge(*chunks, key=_desc_value, reverse=True))
    return list(heapq.merge(*chunks))


def _rank(entry: tuple) -> Any:
    return entry[1]


def _desc_value(entry: tuple) -> Any:
    return entry[0].v


def sorted_rows(ranked: Iterable[tuple[tuple, WorkItem]], column: str, descending: bool
                ) -> tuple[list[str], dict[str, tuple], list[tuple]]:
    """(row keys in the worklist's order, each row's sort entry by key, the entries sorted) of the
    (rank, row) pairs ``ranked`` under a column sort: each row's key and value worked out once. Pure:
    runs on any thread given rows nobody changes meanwhile (``Worklist.ranked_copy``)."""
    ranked = list(ranked)
    keys = [row_key(it) for _, it in ranked]
    value = SORT_COLUMNS[column]
    if descending:
        entries = [(_Desc(value(it)), rank, k) for (rank, it), k in zip(ranked, keys)]
    else:
        entries = [(value(it), rank, k) for (rank, it), k in zip(ranked, keys)]
    return keys, {e[2]: e for e in entries}, sort_entries(entries)


@dataclass(frozen=True)
class SortResult:
    """A sort worked out by ``ReviewOrder.sort_job``'s function, for ``install_sort``."""

    sort: tuple  # (column, descending)
    request: int
    changes: int
    rows: tuple  # what sorted_rows gives


class ReviewOrder:
    def __init__(self, worklist: Worklist) -> None:
        self.worklist = worklist
        self.sort_column: Optional[str] = None
        self.descending = False
        self._subscribers = Subscribers()
        # under a sort: the worklist's view as row keys (to read its notifications), and the sorted rows
        self._mirror: list[str] = []
        self._rows: list[tuple] = []  # (sort value, worklist rank, row key), sorted
        self._entry: dict[str, tuple] = {}
        self._requests = 0  # sort requests so far (a result of sort_job installs only if still the latest)
        self._changes = 0  # worklist changes so far (a result read from older rows is worked out again)
        self._unsubscribe = worklist.subscribe(self._on_change)

    def close(self) -> None:
        self._unsubscribe()

    # ------------------------------------------------------------------ sorting
    @property
    def sorted_by_user(self) -> bool:
        return self.sort_column is not None

    def set_sort(self, column: Optional[str], descending: bool = False) -> None:
        """Sort by ``column`` (one of ``SORT_COLUMNS``), or back to the worklist's order with None."""
        self._requests += 1  # a sort worked out elsewhere and not installed yet is overtaken
        wanted = new_sort(column, descending, (self.sort_column, self.descending), self.worklist.reading.blinded)
        if wanted is None:
            return
        self.sort_column, self.descending = wanted
        self._rebuild()
        self._emit(Change("reset", 0, len(self) - 1))

    def sort_job(self, column: Optional[str], descending: bool = False) -> Optional[Callable[[], "SortResult"]]:
        """A sort worked out off the GUI thread: the function to run there (it reads a copy of the rows)
        and whose result goes to ``install_sort`` back on this thread; None when there is nothing to
        work out — the request changed nothing, or it was done here at once (back to the worklist's
        order, which costs nothing). Raises ValueError for an unknown column, like ``set_sort``."""
        wanted = new_sort(column, descending, (self.sort_column, self.descending), self.worklist.reading.blinded)
        if wanted is None or wanted[0] is None:
            self.set_sort(column, descending)
            return None
        self._requests += 1
        request, changes, rows = self._requests, self._changes, self.worklist.ranked_copy()
        return lambda: SortResult(wanted, request, changes, sorted_rows(rows, *wanted))

    def install_sort(self, result: "SortResult") -> bool:
        """Install a sort from ``sort_job`` (GUI thread). A later request overtakes it (False, nothing
        changes); if the worklist changed meanwhile it is worked out again here, from the rows as they
        are now."""
        if result.request != self._requests or (result.sort[0] in MODEL_COLUMNS and self.worklist.reading.blinded):
            return False
        self.sort_column, self.descending = result.sort
        if result.changes == self._changes:
            self._mirror, self._entry, self._rows = result.rows
        else:
            self._rebuild()
        self._emit(Change("reset", 0, len(self) - 1))
        return True

    def _entry_for(self, item: WorkItem) -> tuple:
        key = row_key(item)
        value = SORT_COLUMNS[self.sort_column](item)  # type: ignore[index]
        return (_Desc(value) if self.descending else value, self.worklist.rank(key), key)

    def _rebuild(self) -> None:
        """The sorted rows from scratch (a new sort, a reset of the worklist): each row's key and value
        worked out once (what ``_entry_for`` gives, in bulk)."""
        if self.sort_column is None:
            self._mirror, self._rows, self._entry = [], [], {}
            return
        self._mirror, self._entry, self._rows = sorted_rows(self.worklist.ranked(), self.sort_column,
                                                            self.descending)

    # ------------------------------------------------------------------ following the worklist
    def _on_change(self, change: Change) -> None:
        self._changes += 1
        if self.sort_column is None:
            self._emit(change)
            return
        if change.kind == "reset":
            self._rebuild()
            self._emit(Change("reset", 0, len(self) - 1))
        elif change.kind == "inserted":
            for i in change.rows:
                self._mirror.insert(i, row_key(self.worklist[i]))
                self._insert(self.worklist[i])
        elif change.kind == "removed":
            for i in reversed(change.rows):
                self._remove(self._mirror.pop(i))
        elif change.kind == "updated":
            for i in change.rows:
                item = self.worklist[i]
                key = self._mirror[i]
                new = self._entry_for(item)
                if new == self._entry.get(key):
                    pos = bisect.bisect_left(self._rows, new)
                    self._emit(Change("updated", pos, pos))
                else:
                    self._remove(key)
                    self._insert(item)

    def _insert(self, item: WorkItem) -> None:
        entry = self._entry_for(item)
        self._entry[entry[2]] = entry
        pos = bisect.bisect_left(self._rows, entry)
        self._rows.insert(pos, entry)
        self._emit(Change("inserted", pos, pos))

    def _remove(self, key: str) -> None:
        entry = self._entry.pop(key)
        pos = bisect.bisect_left(self._rows, entry)
        del self._rows[pos]
        self._emit(Change("removed", pos, pos))

    # ------------------------------------------------------------------ rows
    def __len__(self) -> int:
        return len(self._rows) if self.sort_column is not None else len(self.worklist)

    def __getitem__(self, row: int) -> WorkItem:
        if self.sort_column is None:
            return self.worklist[row]
        if row < 0:
            row += len(self._rows)
        return self._item(self._rows[row][2])

    def __iter__(self) -> Iterator[WorkItem]:
        if self.sort_column is None:
            return iter(self.worklist)
        return (self._item(e[2]) for e in self._rows)

    def row_keys(self) -> list[str]:
        """Every row's key, in order (what a table lists; cheaper than ``row_key`` of each row)."""
        if self.sort_column is None:
            return self.worklist.row_keys()
        return [e[2] for e in self._rows]

    def _item(self, key: str) -> WorkItem:
        item = self.worklist.item(key)
        assert item is not None, key
        return item

    def item(self, key: str) -> Optional[WorkItem]:
        """The row named ``key`` (shown or not)."""
        return self.worklist.item(key)

    def row_for_image(self, key: str) -> Optional[int]:
        """The row showing an image (here: its own row)."""
        return self.row_of(key)

    def row_of(self, key: Optional[str]) -> Optional[int]:
        """The row of an image id (or of an unreadable file's path), or None when it is not shown."""
        if not key:
            return None
        if self.sort_column is None:
            return self.worklist.index_of(key)
        entry = self._entry.get(key)
        if entry is None:
            return None
        return bisect.bisect_left(self._rows, entry)

    # ------------------------------------------------------------------ navigation
    def next(self, row: int) -> Optional[int]:
        n = len(self)
        return None if n == 0 else min(max(row + 1, 0), n - 1)

    def previous(self, row: int) -> Optional[int]:
        n = len(self)
        return None if n == 0 else max(min(row - 1, n - 1), 0)

    def next_to_review(self, row: int, skip: Optional[str | Iterable[str]] = None) -> Optional[int]:
        """First row at or after ``row`` still to review (other than ``skip``: a row key or several, and
        not open at another reader's workstation), else the first from the top; None when nothing is left."""
        n = len(self)
        start = min(max(row, 0), n)
        skips = frozenset() if skip is None else frozenset((skip,)) if isinstance(skip, str) else frozenset(skip)
        for i in itertools.chain(range(start, n), range(0, start)):
            item = self[i]
            if item.to_review and not item.held and row_key(item) not in skips:
                return i
        return None

    # ------------------------------------------------------------------ notifications
    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        return self._subscribers.add(callback)

    def _emit(self, change: Change) -> None:
        self._subscribers.emit(change)
