"""The triage worklist: a plain-Python, Qt-free list over the store of the images of one folder (or of
the whole database), sorted by fracture probability (highest first; ties keep their arrival order),
with filters, counts, navigation and change notifications a GUI table model can follow.

Order: in-scope images with a probability (descending), then out-of-scope images (``core.scope``: never
flagged, never among the in-scope ones; by probability too), then images without a probability, then
files that could not be read (errors). An image a reader marked "in scope after all" is in scope. The
sort key of a row is ``(group, -probability, seq)`` with ``seq`` its arrival number (unique: a row is
found from its sort key by ``seq``, an int, never by hashing the tuple — 100,000 of those take ~50 ms),
so new scan results are placed by ``bisect`` (O(log n) comparisons plus one list insert) — nothing is
ever resorted except on ``apply`` (a fresh load).

Notifications are sent AFTER the change, to callbacks registered with ``subscribe``: ``Change(kind,
first, last)`` where kind is 'reset' (re-read everything), 'inserted' (rows first..last are new, indices
in the new list), 'removed' (rows first..last are gone, indices in the list before the removal) or
'updated' (rows first..last changed in place). A Qt model keeps its own row count, and on each change
calls begin…/end… back to back (beginInsertRows(first, last); count = len(worklist); endInsertRows()).

The order the reviewer goes through (a column sort, next/previous, next to review) is
``core.order.ReviewOrder``'s, over this list. Each item carries its pseudonymous study key (``study``,
``core.studies``) when the worklist is given ``StudyKeys``; ``watch_items`` tells the study mode
(``core.study_order``) of every row's change whatever the filter. Reading a folder from the store and
building its rows (``load``, off the GUI thread) is ``core.worklist_load``'s, mixed in.
"""

from __future__ import annotations

import bisect
import math
import os
from dataclasses import replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Optional

from core.reading import MODEL_FILTERS, Reading
from core.results import ERROR, REUSED, ScanItem
from core.studies import StudyKeys
from core.worklist_load import WorklistLoading

from core.work_items import (FILTER_TITLES, FILTERS, Change, Snapshot, Subscribers, Update,  # noqa: F401
                             WorkItem, _error_key, ERROR_FILTERS, _reading_after, matches, tally,
                             view_keys)

if TYPE_CHECKING:  # pragma: no cover
    from core.model.card import Thresholds
    from core.store import Decision, Store


class RankedRows:
    """A copy of a worklist's shown rows in order, safe to read on any thread: iterating gives
    (rank, row) like ``Worklist.ranked``."""

    __slots__ = ("_view", "_items", "_key_of")

    def __init__(self, view: list, items: dict, key_of: dict) -> None:
        self._view, self._items, self._key_of = view, items, key_of

    def __len__(self) -> int:
        return len(self._view)

    def __iter__(self) -> Iterator[tuple[tuple, WorkItem]]:
        items, key_of = self._items, self._key_of
        return ((sk, items[key_of[sk[-1]]]) for sk in self._view)


class Worklist(WorklistLoading):
    """See the module docstring. Not thread-safe: use it from one thread (the GUI thread), except
    ``load``, which only reads the store (the desktop runs it on a worker, then ``apply`` on the GUI
    thread)."""

    def __init__(
        self,
        store: "Store",
        thresholds: "Thresholds",
        root: Optional[Path] = None,
        model_version: Optional[str] = None,
        reading: Optional[Reading] = None,
        study_keys: Optional[StudyKeys] = None,
    ) -> None:
        self.store = store
        self.reading = reading or Reading()
        self.study_keys = study_keys
        self.thresholds = thresholds
        self.root = Path(root).absolute() if root is not None else None
        self.model_version = model_version
        self._filter = "to_review"
        self._items: dict[str, WorkItem] = {}
        self._sk: dict[str, tuple] = {}
        self._key_of: dict[int, str] = {}  # a sort key's seq (its last element) -> the row's key
        self._all: list[tuple] = []  # sort keys of every row, sorted
        self._view: list[tuple] = []  # sort keys of the rows matching the filter, sorted
        self._keys: Optional[list[str]] = []  # row_keys() of the view, or None once the rows changed
        self._counts = dict.fromkeys(FILTERS, 0)
        self._facts = [0, 0]  # rows with a note, rows with a body part or view (``column_facts``)
        self._seq = 0
        self._held: set[str] = set()
        self._local_seq = 0  # counts decisions applied here (a poll read before one must not undo it)
        self._touched: dict[str, int] = {}
        self.last_event = 0
        self._subscribers = Subscribers()
        self._watchers = Subscribers()  # watch_items: callback(key, old, new)
        self.stats = {"sorts": 0, "inserts": 0}

    # ------------------------------------------------------------------ building
    def _flag(self, p: Optional[float], out_of_scope: bool = False) -> Optional[str]:
        return None if p is None or out_of_scope else self.thresholds.flag(p)

    def _study(self, path: Path, study_uid: Optional[str]) -> dict:
        if self.study_keys is None:
            return {}
        key, kind = self.study_keys.of(path, study_uid)
        return {"study": key, "study_kind": kind}

    def _with_scope(self, item: WorkItem) -> WorkItem:
        """The item with its flag settled by its scope: an out-of-scope image never carries a flag."""
        flag = self._flag(item.probability, item.out_of_scope)
        return item if flag == item.flag else replace(item, flag=flag)

    def _sort_key(self, item: WorkItem) -> tuple:
        self._seq += 1
        return self._rank(item, self._seq)

    def _rank(self, item: WorkItem, seq: int) -> tuple:
        """A row's sort key (see the module docstring); thread-safe (reads only the reading context)."""
        if item.error is not None:
            return (3, 0.0, seq)
        if self.reading.blinded:  # the model hidden: a random order, stable per reader
            return (1 if item.out_of_scope else 0, self.reading.shuffle_key(item.image_id or ""), seq)
        if item.probability is None or math.isnan(item.probability):
            return (2, 0.0, seq)
        return (1 if item.out_of_scope else 0, -float(item.probability), seq)

    def apply(self, snapshot: "Snapshot") -> None:
        """Replace every row with ``snapshot``'s, then notify 'reset'. The worklist's thread; only
        installs what ``load`` built (builds it here when the snapshot has none or another filter)."""
        p = snapshot.prepared
        if p is None or p.filter != self._filter:
            p = self._prepare(snapshot, self._filter)
        self._items, self._sk, self._key_of, self._all = p.items, p.sk, p.key_of, p.all
        self._counts, self._seq, self._view = dict(p.counts), p.seq, list(p.view)
        self._keys = p.keys  # listed where ``load`` ran: touching 100,000 rows here costs ~50 ms
        self._facts = list(p.facts)
        self.last_event = snapshot.last_event
        self._held = set(snapshot.held)
        self.stats["sorts"] += 1
        self._emit(Change("reset", 0, len(self._view) - 1))
        self._tell(None, None, None)

    def reload(self) -> None:
        """``apply(load())`` on the calling thread (tools and tests; the desktop splits the two)."""
        self.apply(self.load())

    def _count(self, item: WorkItem, delta: int) -> None:
        tally(self._counts, self._facts, item, delta)

    def _rebuild_view(self) -> None:
        name = self._filter
        self._keys = None
        self._view = [sk for sk in self._all if matches(self._items[self._key_of[sk[-1]]], name)]
        self._emit(Change("reset", 0, len(self._view) - 1))

    # ------------------------------------------------------------------ incremental updates
    def _in_root(self, path: Path) -> bool:
        if self.root is None:
            return True
        text = str(path if isinstance(path, PurePath) and path.is_absolute() else Path(path).absolute())
        root = str(self.root)
        return text == root or text.startswith(root if root.endswith(os.sep) else root + os.sep)

    def shows(self, item: ScanItem) -> bool:
        """Whether a scan result is an unchanged file (REUSED) whose row shows exactly this (same image,
        path, probability and scope): adding it would change nothing. Thread-safe (one lookup in the rows,
        an atomic dict read; the rows themselves are never changed, only replaced): the desktop asks it
        on the writer thread so a re-scan of an unchanged folder costs the GUI nothing."""
        if item.status != REUSED or not item.image_id:
            return False
        it = self._items.get(item.image_id)
        return (it is not None and it.error is None and it.path_text == str(item.path)
                and it.probability == item.probability and it.scope == item.scope and it.scope_reason == item.scope_reason)

    def add_scan_items(self, items: Iterable[ScanItem], labels: Optional[Mapping[str, "Decision"]] = None) -> None:
        """Merge scan results as they arrive (bisect insertion, per-row notifications). ``labels``: the
        current decisions of these images, when the caller already read them off the GUI thread
        (else they are read from the store here)."""
        items = [i for i in items if self._in_root(i.path)]
        if labels is None:
            new_ids = [i.image_id for i in items if i.status != ERROR and i.image_id and i.image_id not in self._items]
            labels = self.labels_for(new_ids) if new_ids else {}
        decided = [k for k, d in labels.items() if d is not None and k not in self._items]
        readings, others = self._readings(decided)  # only images new to this list that someone already read
        for si in items:
            path = Path(si.path).absolute()
            if si.status == ERROR or not si.image_id:
                key = _error_key(path)
                item = self._error_item(path, si.error, si.error_kind, si.image_id)
                self._put(key, item)
                continue
            if _error_key(path) in self._items:
                self._remove(_error_key(path))
            old = self._items.get(si.image_id)
            mv = si.model_version or self.model_version
            if old is not None:
                changed = si.probability is not None and si.probability != old.probability
                if changed or (si.scope is not None and (si.scope, si.scope_reason) != (old.scope, old.scope_reason)):
                    self._put(si.image_id, self._with_scope(replace(
                        old, probability=si.probability if si.probability is not None else old.probability,
                        model_version=mv, scope=si.scope or old.scope,
                        scope_reason=si.scope_reason if si.scope is not None else old.scope_reason)))
                continue
            d = labels.get(si.image_id)
            dicom = si.meta.dicom if si.meta is not None else None
            self._put(
                si.image_id,
                self._with_scope(WorkItem(
                    image_id=si.image_id,
                    path_text=str(path),
                    name=path.name,
                    probability=si.probability,
                    model_version=mv,
                    flag=self._flag(si.probability),
                    label=d.label if d else None,
                    reviewer=d.reviewer if d else None,
                    decided_at=d.decided_at if d else None,
                    body_part=dicom.body_part if dicom else None,
                    view=dicom.view_position if dicom else None,
                    error=None,
                    note="; ".join(si.meta.notes) if si.meta is not None and si.meta.notes else None,
                    reading=readings.get(si.image_id),
                    settled=self.reading.settled(readings.get(si.image_id)),
                    held=si.image_id in self._held,
                    readers_text=others.get(si.image_id),
                    scope=si.scope,
                    scope_reason=si.scope_reason,
                    **self._study(path, dicom.study_uid if dicom else None),
                )),
            )

    def keys_at(self, paths: Iterable[Path | str]) -> dict[str, str]:
        """Absolute path (text) -> the row key of the image listed at it, for those of ``paths`` listed
        (one pass over the rows)."""
        want = {str(Path(p).absolute()) for p in paths}
        return {it.path_text: key for key, it in self._items.items() if it.error is None and it.path_text in want}

    def forget(self, image_id: str) -> None:
        """Drop an image's row (its file now holds another image, which has its own row)."""
        if image_id in self._items:
            self._remove(image_id)

    def apply_decision(self, decision: "Decision") -> None:
        """Show a recorded decision (or undo) on its row; rows leave/enter the current filter as needed."""
        old = self._items.get(decision.image_id)
        if old is None:
            return
        current = decision.restored if decision.is_undo else decision
        reading = _reading_after(decision, old.reading)
        self._local_seq += 1
        self._touched[decision.image_id] = self._local_seq
        self._put(
            decision.image_id,
            replace(
                old,
                label=current.label if current else None,
                reviewer=current.reviewer if current else None,
                decided_at=current.decided_at if current else None,
                reading=reading,
                settled=self.reading.settled(reading),
            ),
        )

    # ------------------------------------------------------------------ other readers, live
    def poll(self) -> Update:
        """Read what other readers did since ``last_event``: their decisions (shown as this reader may
        see them) and which images they have open. Thread-safe (only reads the store): run it off the
        GUI thread, then ``apply_update`` the result."""
        seq = self._local_seq  # read first: a decision applied after this is newer than what we read
        since = self.last_event
        ids, last = self.store.decided_since(since)
        labels = self.labels_for(ids) if ids else {}
        readings, others = self._readings(ids)
        return Update(max(last, since), tuple(ids), labels, readings, others, self._claims(), seq)

    def apply_update(self, update: Update) -> int:
        """Show another reader's decisions and claims (the worklist's thread); returns how many rows
        changed. Images this reader decided after the poll began keep what was applied here."""
        self.last_event = max(self.last_event, update.last_event)
        changed = 0
        for image_id in update.image_ids:
            old = self._items.get(image_id)
            if old is None or self._touched.get(image_id, 0) > update.local_seq:
                continue
            d = update.labels.get(image_id)
            reading = update.readings.get(image_id)
            reading = None if reading == "unread" else reading
            new = replace(old, label=d.label if d else None, reviewer=d.reviewer if d else None,
                          decided_at=d.decided_at if d else None, reading=reading,
                          settled=self.reading.settled(reading), readers_text=update.others.get(image_id))
            if new != old:
                self._put(image_id, new)
                changed += 1
        return changed + self._set_held(set(update.held))

    def mark_held(self, image_id: str) -> None:
        """Another reader holds this image (a claim was refused): "next" skips it until a poll says otherwise."""
        self._set_held(self._held | {image_id})

    def _set_held(self, held: set[str]) -> int:
        changed = 0
        for key in held ^ self._held:
            old = self._items.get(key)
            if old is not None and old.held != (key in held):
                self._put(key, replace(old, held=key in held))
                changed += 1
        self._held = held
        return changed

    def apply_scope_mark(self, mark) -> None:
        """Show a recorded "in scope after all" mark (``core.store.scope_events.ScopeMark``) or its
        withdrawal on its row: the row moves between the out-of-scope group and the in-scope ranking."""
        old = self._items.get(mark.image_id)
        if old is None:
            return
        by, at = (mark.reviewer, mark.at) if mark.in_scope else (None, None)
        self._put(mark.image_id, self._with_scope(replace(old, scope_marked_by=by, scope_marked_at=at)))

    def _put(self, key: str, item: WorkItem) -> None:
        """Insert or replace one row, keeping both sorted lists and the counts, and notify."""
        self._keys = None
        old = self._items.get(key)
        if old is not None:
            same_place = (old.probability == item.probability and (old.error is None) == (item.error is None)
                          and old.out_of_scope == item.out_of_scope)
            if not same_place:
                self._remove(key)
                old = None
        if old is None:
            sk = self._sort_key(item)
            self._items[key] = item
            self._sk[key] = sk
            self._key_of[sk[-1]] = key
            bisect.insort(self._all, sk)
            self.stats["inserts"] += 1
            self._count(item, +1)
            if matches(item, self._filter):
                i = bisect.bisect_left(self._view, sk)
                self._view.insert(i, sk)
                self._emit(Change("inserted", i, i))
            self._tell(key, None, item)
            return
        sk = self._sk[key]
        self._count(old, -1)
        self._count(item, +1)
        self._items[key] = item
        was, now = matches(old, self._filter), matches(item, self._filter)
        if was and now:
            i = bisect.bisect_left(self._view, sk)
            self._emit(Change("updated", i, i))
        elif was:
            i = bisect.bisect_left(self._view, sk)
            del self._view[i]
            self._emit(Change("removed", i, i))
        elif now:
            i = bisect.bisect_left(self._view, sk)
            self._view.insert(i, sk)
            self._emit(Change("inserted", i, i))
        self._tell(key, old, item)

    def _remove(self, key: str) -> None:
        self._keys = None
        item = self._items.pop(key)
        sk = self._sk.pop(key)
        del self._key_of[sk[-1]]
        del self._all[bisect.bisect_left(self._all, sk)]
        self._count(item, -1)
        if matches(item, self._filter):
            i = bisect.bisect_left(self._view, sk)
            del self._view[i]
            self._emit(Change("removed", i, i))
        self._tell(key, item, None)

    # ------------------------------------------------------------------ the view
    @property
    def filter(self) -> str:
        return self._filter

    @property
    def filters(self) -> tuple[str, ...]:
        """The filters this reader may use (blinded: none that tells the model's flag)."""
        return tuple(f for f in FILTERS if not (self.reading.blinded and f in MODEL_FILTERS))

    def set_filter(self, name: str) -> None:
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}; one of {', '.join(FILTERS)}")
        if name not in self.filters:
            raise ValueError(f"the {FILTER_TITLES[name]!r} filter shows the model's flag; not in blinded reading")
        self._filter = name
        self._rebuild_view()

    def __len__(self) -> int:
        return len(self._view)

    def __getitem__(self, index: int) -> WorkItem:
        return self._items[self._key_of[self._view[index][-1]]]

    def __iter__(self):
        return (self._items[self._key_of[sk[-1]]] for sk in self._view)

    def ranked(self) -> Iterator[tuple[tuple, WorkItem]]:
        """(rank, row) of the rows shown, in order (``rank`` as ``rank(key)`` gives it); read it before
        the worklist changes again (``ranked_copy`` for another thread)."""
        return iter(RankedRows(self._view, self._items, self._key_of))

    def ranked_copy(self) -> "RankedRows":
        """What ``ranked`` gives, as a copy that another thread may read while this worklist changes
        (three C-level copies: a few ms for 100,000 rows; the rows themselves are immutable)."""
        return RankedRows(list(self._view), dict(self._items), dict(self._key_of))

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def column_facts(self) -> tuple[bool, bool]:
        """(some row of the folder carries a reader's note, some row has a body part or view), whatever
        the filter: kept as rows come and go, so asking costs nothing."""
        return self._facts[0] > 0, self._facts[1] > 0

    def row_keys(self) -> list[str]:
        """Each shown row's key in order, as ``core.order.row_key`` names it (an image id, or an
        unreadable file's path), as a new list: a copy of the one ``load`` listed (or listed again since
        the rows changed), ~1 ms for 100,000 rows."""
        if self._keys is None:
            self._keys = view_keys(self._view, self._key_of, self._items,
                                   bool(self._counts["errors"]) and self._filter in ERROR_FILTERS)
        return list(self._keys)

    def item(self, key: str) -> Optional[WorkItem]:
        """The row of an image id (or of an unreadable file, by its path) whether or not it passes the
        current filter."""
        return self._items.get(key) or self._items.get(_error_key(key))

    def all_items(self) -> Iterator[WorkItem]:
        """Every row of the folder, whether or not it passes the current filter (no order)."""
        return iter(list(self._items.values()))

    def rank(self, key: str) -> Optional[tuple]:
        """A row's place in the worklist's own order (comparable; see the module docstring)."""
        return self._sk.get(key) or self._sk.get(_error_key(key))

    def index_of(self, key: str) -> Optional[int]:
        """Row index of an image (or of an error row, by its path) in the current view, or None."""
        sk = self.rank(key)
        if sk is None:
            return None
        i = bisect.bisect_left(self._view, sk)
        return i if i < len(self._view) and self._view[i] == sk else None

    # ------------------------------------------------------------------ notifications
    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        return self._subscribers.add(callback)

    def _emit(self, change: Change) -> None:
        self._subscribers.emit(change)

    def watch_items(self, callback: Callable[[Optional[str], Optional[WorkItem], Optional[WorkItem]], None]
                    ) -> Callable[[], None]:
        """``callback(key, old, new)`` after every row change whatever the filter (``old`` None: a new
        row; ``new`` None: a row gone); ``callback(None, None, None)`` after ``apply`` (everything new).
        Returns the function that stops it."""
        return self._watchers.add(callback)

    def _tell(self, key: Optional[str], old: Optional[WorkItem], new: Optional[WorkItem]) -> None:
        self._watchers.emit(key, old, new)

    def all_rows(self) -> Iterable[tuple[str, WorkItem]]:
        """Every row (key, item), whatever the filter, in the worklist's order."""
        return ((self._key_of[sk[-1]], self._items[self._key_of[sk[-1]]]) for sk in self._all)
