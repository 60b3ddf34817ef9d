"""Finding a file by name in the review order (Ctrl+F in the app): which rows match, which one to go
to from where the reviewer is, and how many matching files the current filter hides. The desktop's
find bar only shows what this returns and moves there.

A query matches a row when it occurs in the file's name, ignoring case (``str.casefold``) and the
spaces around the query; a query with a path separator is looked for in the whole path instead
("2024/knee" finds files in that folder). Unreadable files (their rows are named by path) match too.

In the study mode (a ``core.study_order.StudyOrder``) the files looked through are every listed
study's views, study after study in the order shown, so a match inside a closed study is found too:
``FindResult.key`` names the image, and the desktop opens its study and goes to that view.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable, Optional

from core.order import row_key

if TYPE_CHECKING:  # pragma: no cover
    from core.order import ReviewOrder
    from core.worklist import WorkItem

FORWARD, BACKWARD, HERE = 1, -1, 0


@dataclass(frozen=True)
class FindResult:
    row: Optional[int]  # the row to go to in the order shown; None: no match shown
    index: int  # 1-based place of ``row`` among the matches shown (0: none)
    count: int  # matches shown in the current order (filter)
    hidden: int  # matching rows of the folder that the current filter does not show
    key: Optional[str] = None  # the row key of the matching file to go to (its view, in the study mode)


def _needle(text: str) -> tuple[str, bool]:
    needle = (text or "").strip().casefold()
    return needle, ("/" in needle or os.sep in needle)


def matches(item: "WorkItem", text: str) -> bool:
    needle, in_path = _needle(text)
    if not needle:
        return False
    haystack = item.path_text if in_path else (item.name or "")
    return needle in haystack.casefold()


def matching_rows(items: Iterable["WorkItem"], text: str) -> list[int]:
    """Positions (in iteration order) of the items that match ``text``."""
    needle, in_path = _needle(text)
    if not needle:
        return []
    if in_path:
        return [i for i, it in enumerate(items) if needle in it.path_text.casefold()]
    return [i for i, it in enumerate(items) if needle in (it.name or "").casefold()]


def find(order: "ReviewOrder", text: str, start: int, step: int = HERE) -> FindResult:
    """The match to go to from row ``start``: with ``HERE`` the first at or after it (typing), with
    ``FORWARD`` the first after it, with ``BACKWARD`` the last before it — wrapping round the list."""
    if getattr(order, "studies", False):
        return _find_in_studies(order, text, start, step)
    rows = matching_rows(order, text)
    total = len(matching_rows(order.worklist.all_items(), text)) if text.strip() else 0
    result = _pick(rows, max(0, total - len(rows)), start, step)
    return replace(result, key=row_key(order[result.row])) if result.row is not None else result


def _find_in_studies(order, text: str, start: int, step: int) -> FindResult:
    """``find`` over the listed studies' views (see the module docstring); ``row`` is the match's
    place among them, ``key`` its row key."""
    views, starts = [], {}
    for st in order.listed_studies():
        starts[st.row_key] = len(views)
        views.extend(st.views)
    item = order[start] if 0 <= start < len(order) else None
    keys = [row_key(v) for v in views]
    if item is None:
        here = 0
    elif item.is_study:  # on a study row: before its first view
        here = starts.get(item.row_key, 0) - (1 if step == FORWARD else 0)
    else:
        here = keys.index(row_key(item)) if row_key(item) in keys else 0
    rows = matching_rows(views, text)
    total = len(matching_rows(order.worklist.all_items(), text)) if text.strip() else 0
    result = _pick(rows, max(0, total - len(rows)), here, step)
    return replace(result, key=keys[result.row]) if result.row is not None else result


def _pick(rows: list[int], hidden: int, start: int, step: int) -> FindResult:
    shown = len(rows)
    if not rows:
        return FindResult(None, 0, 0, hidden)
    if step == BACKWARD:
        i = bisect.bisect_left(rows, start) - 1  # the last match before start; -1 wraps to the end
        i %= shown
    else:
        i = bisect.bisect_left(rows, start + 1 if step == FORWARD else start)
        if i >= shown:
            i = 0
    return FindResult(rows[i], i + 1, shown, hidden)
