"""``StudyOrder``: the review order of the study mode — a row is a study (``core.studies.StudyItem``),
sorted by its study score (highest first), and one study at a time can be open (expanded): its views
are then the rows right under it, in the worklist's order. The same protocol as
``core.order.ReviewOrder`` (rows, ``row_of``, ``item``, next/previous/next to review, column sort,
change notifications), so ``core.triage`` and the desktop table use either without knowing which.

* **Order**: study groups like the worklist's — studies with an in-scope scored view, then studies
  whose every readable view is out of scope, then unscored ones, then studies none of whose files could
  be read — by study score (highest first), ties by key; or one column sort (``core.order.SORT_COLUMNS``
  applied to the study rows; the views of the open study stay in score order under it).
* **Filters** (``set_filter``, the worklist's names): a study is listed when any of its views matches,
  except *flagged*, which is the study score's own flag; *all* lists every study. The open study shows
  all its views whatever the filter. ``counts`` are study counts per filter (``Worklist.counts`` has
  the image counts).
* **Next to review** from inside the open study looks at its other views first, then at the studies
  below (wrapping to the top); a study whose every view still to review is open at another reader's
  workstation (held) is skipped, like a held image.
* **Blinded reading** (``core.reading``): the studies are in a random order (stable per reader, from
  the study key), no filter or column sort that tells the model's score or flag.

The order follows the worklist through ``Worklist.watch_items`` (every row change, whatever the
worklist's own filter) and rebuilds only the studies a change touched. Not thread-safe: the GUI thread.
"""

from __future__ import annotations

import bisect
import itertools
import math
from typing import Callable, Iterable, Iterator, Optional

from core.order import SORT_COLUMNS, _Desc, new_sort, row_key, sort_entries
from core.studies import STUDY_PREFIX, StudyItem, study_score
from core.worklist import FILTERS, Change, Subscribers, WorkItem, Worklist, matches


def study_matches(study: StudyItem, name: str) -> bool:
    """Whether a study is listed under the filter ``name`` (see the module docstring)."""
    if name == "all":
        return True
    if name == "flagged":
        return study.flag is not None
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; one of {', '.join(FILTERS)}")
    return any(matches(v, name) for v in study.views)


def _skips(skip: Optional[str | Iterable[str]]) -> frozenset:
    if skip is None:
        return frozenset()
    return frozenset((skip,)) if isinstance(skip, str) else frozenset(skip)


class StudyOrder:
    studies = True  # the table indents the open study's views

    def __init__(self, worklist: Worklist, method: str = "max") -> None:
        study_score((), method)  # checks the method's name
        self.worklist = worklist
        self.method = method
        self.filter = worklist.filter
        self.sort_column: Optional[str] = None
        self.descending = False
        self._subscribers = Subscribers()
        self._members: dict[str, dict[str, WorkItem]] = {}
        self._studies: dict[str, StudyItem] = {}
        self._entries: list[tuple] = []  # (sort value, rank, study key) of the listed studies, sorted
        self._entry: dict[str, tuple] = {}
        self._counts = dict.fromkeys(FILTERS, 0)
        self._open: Optional[str] = None
        self._open_views: list[str] = []  # row keys of the open study's views, as shown
        self._stop = worklist.watch_items(self._on_item)
        self._load()

    def close(self) -> None:
        self._stop()

    # ------------------------------------------------------------------ studies
    @staticmethod
    def _study_of(key: str, item: WorkItem) -> str:
        return item.study or ("-" + key)  # an item without a study key is a study of its own

    def _load(self) -> None:
        self._members.clear()
        for key, item in self.worklist.all_rows():
            self._members.setdefault(self._study_of(key, item), {})[key] = item
        self._studies = {sk: self._build(sk, m) for sk, m in self._members.items()}
        self._counts = dict.fromkeys(FILTERS, 0)
        for st in self._studies.values():
            self._count(st, +1)
        if self._open not in self._studies:
            self._open, self._open_views = None, []
        self._relist()

    def _relist(self) -> None:
        self._entry = {sk: self._entry_for(st) for sk, st in self._studies.items() if study_matches(st, self.filter)}
        self._entries = sort_entries(self._entry.values())
        if self._open is not None and self._open not in self._entry:
            self._open, self._open_views = None, []
        self._open_views = self._view_keys(self._open) if self._open is not None else []

    def _build(self, sk: str, members: dict[str, WorkItem]) -> StudyItem:
        wl = self.worklist
        views = tuple(sorted(members.values(), key=lambda it: wl.rank(row_key(it)) or (9, 0.0, 0)))
        inside = [v.probability for v in views if v.error is None and not v.out_of_scope]
        everyone = [v.probability for v in views if v.error is None]
        score = study_score(inside, self.method)
        out = score is None and study_score(everyone, self.method) is not None
        if out:
            score = study_score(everyone, self.method)
        flag = None if score is None or out else wl.thresholds.flag(score)
        kind = next((v.study_kind for v in views if v.study_kind), "file")
        return StudyItem(key=sk, kind=kind, views=views, probability=score, flag=flag, method=self.method)

    def _rank(self, st: StudyItem) -> tuple:
        reading = self.worklist.reading
        if st.error is not None:
            group = 3
        elif reading.blinded:  # the model hidden: a random order, stable per reader
            return (1 if st.out_of_scope else 0, reading.shuffle_key(st.key), st.key)
        elif st.probability is None or math.isnan(st.probability):
            group = 2
        else:
            group = 1 if st.flag is None and st.out_of_scope else 0
        return (group, -(st.probability or 0.0) if group < 2 else 0.0, st.key)

    def _entry_for(self, st: StudyItem) -> tuple:
        value = 0 if self.sort_column is None else SORT_COLUMNS[self.sort_column](st)
        return (_Desc(value) if self.descending else value, self._rank(st), st.key)

    def _count(self, st: StudyItem, delta: int) -> None:
        for name in FILTERS:
            if study_matches(st, name):
                self._counts[name] += delta

    def _view_keys(self, sk: Optional[str]) -> list[str]:
        st = self._studies.get(sk) if sk is not None else None
        return [row_key(v) for v in st.views] if st is not None else []

    # ------------------------------------------------------------------ following the worklist
    def _on_item(self, key: Optional[str], old: Optional[WorkItem], new: Optional[WorkItem]) -> None:
        if key is None:
            self._load()
            self._emit(Change("reset", 0, len(self) - 1))
            return
        touched = []
        if old is not None:
            sk = self._study_of(key, old)
            self._members.get(sk, {}).pop(key, None)
            touched.append(sk)
        if new is not None:
            sk = self._study_of(key, new)
            self._members.setdefault(sk, {})[key] = new
            if sk not in touched:
                touched.append(sk)
        for sk in touched:
            self._refresh(sk)

    def _open_pos(self) -> Optional[int]:
        e = self._entry.get(self._open) if self._open is not None else None
        return None if e is None else bisect.bisect_left(self._entries, e)

    def _row_of_pos(self, pos: int) -> int:
        p = self._open_pos()
        return pos + (len(self._open_views) if p is not None and pos > p else 0)

    def _refresh(self, sk: str) -> None:
        members = self._members.get(sk)
        old = self._studies.get(sk)
        new = self._build(sk, members) if members else None
        if old is not None:
            self._count(old, -1)
        if new is not None:
            self._count(new, +1)
            self._studies[sk] = new
        else:
            self._studies.pop(sk, None)
            self._members.pop(sk, None)
        old_e = self._entry.get(sk)
        new_e = self._entry_for(new) if new is not None and study_matches(new, self.filter) else None
        is_open = sk == self._open
        views = self._view_keys(sk) if is_open and new_e is not None else []
        if old_e is not None and new_e == old_e and (not is_open or views == self._open_views):
            row = self._row_of_pos(bisect.bisect_left(self._entries, old_e))
            self._emit(Change("updated", row, row + (len(views) if is_open else 0)))
            return
        if old_e is not None:
            pos = bisect.bisect_left(self._entries, old_e)
            row = self._row_of_pos(pos)
            shown = len(self._open_views) if is_open else 0
            del self._entries[pos]
            del self._entry[sk]
            if is_open:
                self._open_views = []
            self._emit(Change("removed", row, row + shown))
        if new_e is not None:
            self._entry[sk] = new_e
            pos = bisect.bisect_left(self._entries, new_e)
            self._entries.insert(pos, new_e)
            row = self._row_of_pos(pos)
            if is_open:
                self._open_views = views
            self._emit(Change("inserted", row, row + len(views)))
        elif is_open:
            self._open, self._open_views = None, []

    # ------------------------------------------------------------------ filter, sort, open study
    def set_filter(self, name: str) -> None:
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}; one of {', '.join(FILTERS)}")
        if name not in self.worklist.filters:
            raise ValueError(f"the {name!r} filter shows the model's flag; not in blinded reading")
        self.filter = name
        self._relist()
        self._emit(Change("reset", 0, len(self) - 1))

    def counts(self) -> dict[str, int]:
        """Studies per filter."""
        return dict(self._counts)

    @property
    def sorted_by_user(self) -> bool:
        return self.sort_column is not None

    def set_sort(self, column: Optional[str], descending: bool = False) -> None:
        wanted = new_sort(column, descending, (self.sort_column, self.descending), self.worklist.reading.blinded)
        if wanted is None:
            return
        self.sort_column, self.descending = wanted
        self._relist()
        self._emit(Change("reset", 0, len(self) - 1))

    def sort_job(self, column: Optional[str], descending: bool = False) -> None:
        """``ReviewOrder.sort_job``'s contract; studies are sorted here at once (a folder has a few
        studies per image at most), so there is never a job to run elsewhere."""
        self.set_sort(column, descending)
        return None

    @property
    def open_study(self) -> Optional[StudyItem]:
        return self._studies.get(self._open) if self._open is not None else None

    def expand(self, key: str) -> bool:
        """Open the study ``key`` (a study key, or a study row key): its views become the rows under it
        (another open study closes first). False when it is not listed."""
        sk = key[len(STUDY_PREFIX):] if key.startswith(STUDY_PREFIX) else key
        if sk == self._open:
            return True
        if sk not in self._entry:
            return False
        self.collapse()
        self._open = sk
        self._open_views = self._view_keys(sk)
        row = self._row_of_pos(bisect.bisect_left(self._entries, self._entry[sk]))
        if self._open_views:
            self._emit(Change("inserted", row + 1, row + len(self._open_views)))
        return True

    def collapse(self) -> None:
        """Close the open study (its view rows go)."""
        if self._open is None:
            return
        p, m = self._open_pos(), len(self._open_views)
        self._open, self._open_views = None, []
        if p is not None and m:
            self._emit(Change("removed", p + 1, p + m))

    def listed_studies(self) -> list[StudyItem]:
        """The studies listed under the filter, in the order shown (without the open study's view rows)."""
        return [self._studies[e[2]] for e in self._entries]

    def study_of_row(self, row: int) -> Optional[StudyItem]:
        """The study a row belongs to (itself, or the open study for one of its views)."""
        item = self[row] if 0 <= row < len(self) else None
        if item is None:
            return None
        return item if item.is_study else self.open_study

    # ------------------------------------------------------------------ rows
    def __len__(self) -> int:
        return len(self._entries) + (len(self._open_views) if self._open_pos() is not None else 0)

    def __getitem__(self, row: int):  # -> StudyItem | WorkItem
        if row < 0:
            row += len(self)
        p, m = self._open_pos(), len(self._open_views)
        if p is not None and row > p:
            if row <= p + m:
                return self._view(self._open_views[row - p - 1])
            row -= m
        return self._studies[self._entries[row][2]]

    def __iter__(self) -> Iterator:
        return (self[i] for i in range(len(self)))

    def row_keys(self) -> list[str]:
        """Every row's key, in order (studies and the open study's views)."""
        return [row_key(x) for x in self]

    def _view(self, key: str) -> WorkItem:
        item = self.worklist.item(key)
        assert item is not None, key
        return item

    def item(self, key: str):
        """The row named ``key``: a study (``study:<key>``) or a view of the open study (or any image)."""
        if key.startswith(STUDY_PREFIX):
            return self._studies.get(key[len(STUDY_PREFIX):])
        return self.worklist.item(key)

    def row_of(self, key: Optional[str]) -> Optional[int]:
        if not key:
            return None
        if key.startswith(STUDY_PREFIX):
            e = self._entry.get(key[len(STUDY_PREFIX):])
            return None if e is None else self._row_of_pos(bisect.bisect_left(self._entries, e))
        p = self._open_pos()
        if p is not None and key in self._open_views:
            return p + 1 + self._open_views.index(key)
        return None

    def row_for_image(self, image_key: str) -> Optional[int]:
        """The row showing an image: its own row in the open study, else its study's row."""
        row = self.row_of(image_key)
        if row is not None:
            return row
        item = self.worklist.item(image_key)
        return None if item is None else self.row_of(STUDY_PREFIX + self._study_of(image_key, item))

    # ------------------------------------------------------------------ navigation
    def next(self, row: int) -> Optional[int]:
        n = len(self)
        return None if n == 0 else min(max(row + 1, 0), n - 1)

    def previous(self, row: int) -> Optional[int]:
        n = len(self)
        return None if n == 0 else max(min(row - 1, n - 1), 0)

    def next_to_review(self, row: int, skip: Optional[str | Iterable[str]] = None) -> Optional[int]:
        """First row at or after ``row`` still to review (a study with a view to review, or such a view
        of the open study), rows in ``skip`` left out; from a view of the open study, its other views
        come first. None when nothing is left."""
        n = len(self)
        skips = _skips(skip)
        start = min(max(row, 0), n)
        p, m = self._open_pos(), len(self._open_views)
        if p is not None and m and p < start <= p + m + 1 and start > p + 1:
            rows: Iterable[int] = itertools.chain(range(start, p + m + 1), range(p + 1, start),
                                                  range(p + m + 1, n), range(0, p + 1))
        else:
            rows = itertools.chain(range(start, n), range(0, start))
        for i in rows:
            item = self[i]
            key = item.row_key if item.is_study else row_key(item)
            if item.to_review and not item.held and key not in skips:
                return i
        return None

    # ------------------------------------------------------------------ notifications
    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        return self._subscribers.add(callback)

    def _emit(self, change: Change) -> None:
        self._subscribers.emit(change)
