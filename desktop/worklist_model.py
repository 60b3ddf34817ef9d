"""The worklist table's model: a Qt model that displays a ``core.order.ReviewOrder`` row by row, the
columns and roles it answers, the File column's delegate (study rows) and the Probability column's
bars (a cached pixmap as the cell's decoration, so Qt paints the column without Python code per row;
the panel with the tabs above the table is ``desktop.worklist_view``).

The model keeps no copy of the rows, only their keys (``core.order.row_key``) in the order's order: it
reads each row's item from the worklist when asked, and follows the order's change notifications
('reset', 'inserted', 'updated', 'removed') with the matching begin/end calls, so views (and
pytest-qt's model tester) always see a consistent model while a scan adds rows. A click on a column
header asks the order to sort; the order, not Qt, decides where each row goes and which image is next.
With a task runner (``set_tasks``, as the window does) the sort is worked out on its pool
(``ReviewOrder.sort_job``, inside ``gc_guard.building``) and installed when it is back (a later click
overtakes an earlier one; ``sort_done`` then); without one, at once (``set_sort``).

Thumbnails (``desktop.thumbnails.ThumbnailLoader``) are the File column's decoration: a placeholder
until the loader's ``ready`` says a row's pixmap arrived, then that one cell is repainted.

In the study mode (the order is a ``core.study_order.StudyOrder``) a row is a study ("▸ Study 3f9a… ·
3 views", its study score, flag and label, bold) and the open study's views are the rows under it,
indented; the tabs show study counts with the image counts in brackets.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from core.order import row_key
from desktop import gc_guard, theme

log = logging.getLogger("fracture_triage.desktop.worklist")

COLUMNS = ("File", "Probability", "Flag", "Decision", "Reviewer", "Body part / view", "Problem / note")
COL_FILE, COL_PROB, COL_FLAG, COL_DECISION, COL_REVIEWER, COL_BODY, COL_ERROR = range(len(COLUMNS))
SORT_COLUMN = {COL_FILE: "name", COL_PROB: "probability", COL_FLAG: "flag", COL_DECISION: "label",
               COL_REVIEWER: "reviewer", COL_BODY: "body", COL_ERROR: "error"}  # -> core.order.SORT_COLUMNS
ITEM_ROLE = Qt.ItemDataRole.UserRole + 1  # the WorkItem
ROW_KEY_ROLE = Qt.ItemDataRole.UserRole + 3  # core.order.row_key: image id, or the path of an unreadable file

# Qt asks data() for about eight roles per cell on every repaint (a key press repaints the rows on
# screen): the roles as plain ints, looked up once, and the answer None at once for roles not shown
_DISPLAY, _FONT, _TOOLTIP, _DECORATION, _FOREGROUND, _ALIGN = (int(r) for r in (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.FontRole, Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.TextAlignmentRole))
_ITEM, _ROW_KEY = int(ITEM_ROLE), int(ROW_KEY_ROLE)
_ROLES = frozenset((_DISPLAY, _FONT, _TOOLTIP, _DECORATION, _FOREGROUND, _ALIGN, _ITEM, _ROW_KEY))
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_ALIGN_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ALIGN_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_TRACK = QColor("#2a3138")
_ERROR_TEXT, _NOTE_TEXT = QColor("#f0a58f"), QColor("#b9c2cb")


class WorklistModel(QAbstractTableModel):
    """Read-only table displaying a core ``ReviewOrder`` (or nothing, before a folder is open)."""

    sort_done = Signal()  # a sort worked out on the pool came back (installed, or overtaken by a later one)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._order = None
        self._unsubscribe = None
        self._keys: list[str] = []  # the rows' keys, as of the last notification Qt was told about
        self._sort: tuple[Optional[str], bool] = (None, False)  # asked for by the header, kept across folders
        self.changing = False  # inside a change notification from the order
        self._thumbs = None  # desktop.thumbnails.ThumbnailLoader
        self._facts: Optional[tuple[bool, bool]] = None  # column_facts(), until the rows change
        self._tasks = None  # desktop.tasks.TaskRunner: column sorts are worked out on its pool
        self.sort_pending = False  # a column sort is being worked out
        self._pending = None  # (order, sort) of the job out, if any
        self._jobs = 0  # jobs handed out: only the latest one's result is installed
        self.pixel_ratio = 1.0  # the table's device pixel ratio, for the Probability column's bars

    def set_thumbnails(self, loader) -> None:
        """Show ``loader``'s thumbnails in the File column (None: no thumbnails)."""
        if self._thumbs is not None:
            self._thumbs.ready.disconnect(self._thumb_ready)
        self._thumbs = loader
        if loader is not None:
            loader.ready.connect(self._thumb_ready)

    def _thumb_ready(self, image_id: str) -> None:
        row = self.row_of(image_id)
        if row < 0 and self.studies:  # a view of a closed study: its study row shows the top view's
            study_row = self._order.row_for_image(image_id)
            study = self._order[study_row] if study_row is not None else None
            if study is not None and study.is_study and study.readable and study.readable[0].image_id == image_id:
                row = self.row_of(study.row_key)
        if 0 <= row < len(self._keys):
            idx = self.index(row, COL_FILE)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    # -- binding ---------------------------------------------------------------------------------------
    @property
    def order(self):
        return self._order

    def set_order(self, order) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.beginResetModel()
        self._order = order
        self._keys = order.row_keys() if order is not None else []
        self._facts = None
        self.endResetModel()
        if order is not None:
            self._unsubscribe = order.subscribe(self._on_change)
            order.set_sort(*self._sort)

    def _on_change(self, change) -> None:
        self.changing = True  # Qt moves the current row itself meanwhile (a row removed): not a user's pick
        try:
            self._follow(change)
        finally:
            self.changing = False

    def _follow(self, change) -> None:
        order = self._order
        self._facts = None
        if change.kind == "inserted":
            self.beginInsertRows(QModelIndex(), change.first, change.last)
            self._keys[change.first:change.first] = [row_key(order[i]) for i in change.rows]
            self.endInsertRows()
        elif change.kind == "removed":
            self.beginRemoveRows(QModelIndex(), change.first, change.last)
            del self._keys[change.first:change.last + 1]
            self.endRemoveRows()
        elif change.kind == "updated":
            if change.last < len(self._keys):
                self.dataChanged.emit(self.index(change.first, 0), self.index(change.last, len(COLUMNS) - 1))
        else:  # 'reset'
            self.beginResetModel()
            self._keys = order.row_keys() if order is not None else []
            self.endResetModel()

    def column_facts(self) -> tuple[bool, bool]:
        """(some row carries a reader's note, some row has a body part or view): the worklist's tallies
        (kept as rows change, whatever the filter); in the study mode the first rows are asked, once per
        change of the rows."""
        worklist = getattr(self._order, "worklist", None)
        if worklist is not None and not self.studies:
            return worklist.column_facts()
        if self._facts is None:
            n = len(self._keys)
            notes = any(it is not None and it.error is None and it.note for it in map(self.item, range(min(2000, n))))
            body = any(it is not None and (it.body_part or it.view) for it in map(self.item, range(min(500, n))))
            self._facts = (notes, body)
        return self._facts

    def item(self, row: int):
        if self._order is None or not 0 <= row < len(self._keys):
            return None
        return self._order.item(self._keys[row])

    @property
    def studies(self) -> bool:
        """The rows are studies (with the open study's views under it)."""
        return bool(getattr(self._order, "studies", False))

    def row_of(self, key: Optional[str]) -> int:
        """Row of an image (by image id) or of an unreadable file (by its path); -1 when not shown."""
        row = self._order.row_of(key) if self._order is not None else None
        return -1 if row is None else row

    def set_tasks(self, tasks) -> None:
        """Work column sorts out on ``tasks``' worker pool (``desktop.tasks.TaskRunner``; None: here)."""
        self._tasks = tasks

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """A header click: the review order sorts (column -1: back to the probability order) — on the
        worker pool when there is one (the rows follow when it is done; the current row stays), else here."""
        self._sort = (SORT_COLUMN.get(column), order == Qt.SortOrder.DescendingOrder)
        target = self._order
        if target is None:
            return
        if self._tasks is None:
            target.set_sort(*self._sort)
            return
        if self.sort_pending and self._pending == (target, self._sort):
            return  # the same click seen twice (the header's signal and the view's own call)
        job = target.sort_job(*self._sort)
        if job is None:
            self.sort_pending, self._pending = False, None  # done here (any job still out is overtaken)
            return
        self._jobs += 1
        seq, wanted = self._jobs, self._sort

        def work():
            with gc_guard.building():  # long-lived rows: no GUI-thread collection walks them (~100 ms each)
                return job()

        def done(result) -> None:
            if seq != self._jobs:
                return  # overtaken by a later click: that one's result follows
            if target is self._order:  # not a folder left meanwhile
                target.install_sort(result)
            self._finish_sort()

        def failed(exc: BaseException) -> None:
            if seq != self._jobs:
                return
            log.warning("sort worked out here after the worker failed (%s)", type(exc).__name__)
            if target is self._order:
                target.set_sort(*wanted)
            self._finish_sort()

        self.sort_pending, self._pending = True, (target, wanted)
        self._tasks.run_in_background(work, done, failed)

    def _finish_sort(self) -> None:
        self.sort_pending, self._pending = False, None
        self.sort_done.emit()

    # -- QAbstractTableModel ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._keys)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return "Study / file" if section == COL_FILE and self.studies else COLUMNS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        role = int(role)
        if role not in _ROLES:
            return None
        it = self.item(index.row()) if index.isValid() else None
        if it is None:
            return None
        return self._value(it, index.column(), role)

    def multiData(self, index: QModelIndex | QPersistentModelIndex, span) -> None:
        """All the roles a view asks of one cell, in one call: Qt's item views ask a cell's seven roles
        at once (``QModelRoleDataSpan``), and Qt's default answers each by a separate ``data`` call.
        Every call from Qt into Python takes the GIL afresh; while a worker runs Python, each waits
        for it (up to the switch interval), so a repaint that makes seven times fewer calls is spared
        most of those waits (``tests/benchmarks/bench_large.py``, "stall while listing")."""
        it = self.item(index.row()) if index.isValid() else None
        col = index.column()
        for rd in span:
            role = rd.role()
            value = self._value(it, col, role) if it is not None and role in _ROLES else None
            if value is None:
                rd.clearData()
            else:
                rd.setData(value)

    def _value(self, it, col: int, role: int):
        """What ``data`` answers for the row ``it``, column ``col`` and ``role`` (one of ``_ROLES``)."""
        if role == _DISPLAY:
            if it.is_study:
                return self._display_study(it, col)
            text = self._display(it, col)
            return f"      {text}" if col == COL_FILE and self.studies else text
        if role == _FONT:
            return _bold() if it.is_study and col == COL_FILE else None  # bold would elide the narrow ones
        if role == _TOOLTIP and it.is_study:
            return self._study_tooltip(it)
        if role == _ITEM:
            return it
        if role == _ROW_KEY:
            return row_key(it)
        if role == _DECORATION:
            if col == COL_PROB:
                return bar_for(it, self.pixel_ratio)
            thumbs = self._thumbs
            if col != COL_FILE or thumbs is None or not thumbs.enabled:
                return None
            if it.is_study:  # the study's top view stands for it
                it = it.readable[0] if it.readable else it
            if it.error or not it.image_id:
                return thumbs.placeholder
            return thumbs.icon(it.image_id, it.path_text) or thumbs.placeholder
        if role == _TOOLTIP:
            if col in (COL_ERROR, COL_FLAG) and not it.error and _scope_text(it):
                return _scope_text(it) + "\nPress S to mark it in scope after all (or to withdraw that)."
            if col == COL_ERROR or (col == COL_FILE and (it.error or it.note)):
                if it.error:
                    return f"{it.path_text}\n{it.error}"
                note = it.note
                return f"{it.path_text}\nNote: {note}" if note else it.path_text
            if col == COL_FILE:
                return it.path_text
            return None
        if role == _FOREGROUND:
            if col == COL_DECISION and it.label in theme.LABEL_COLOURS:
                return theme.LABEL_COLOURS[it.label]
            if col == COL_FLAG and it.flag:
                return theme.flag_colour(it.flag, it.probability)
            if col == COL_ERROR:
                return _ERROR_TEXT if it.error else _NOTE_TEXT
            return None
        if role == _ALIGN:
            return _ALIGN_RIGHT if col == COL_PROB else _ALIGN_LEFT
        return None

    def _display_study(self, st, col: int) -> Optional[str]:
        if col == COL_FILE:
            opened = self._order.open_study is not None and self._order.open_study.key == st.key
            n = len(st.views)
            return f"{'▾' if opened else '▸'} {st.key} · {n} view{'s' if n != 1 else ''}"  # the header says "Study"
        if col == COL_DECISION and st.label is None and st.decided_views:
            return f"{st.decided_views} of {len(st.readable)}"
        return self._display(st, col)

    @staticmethod
    def _study_tooltip(st) -> str:
        how = {"dicom": "DICOM study (StudyInstanceUID)", "folder": "one folder", "name_prefix":
               "file names sharing a prefix in one folder", "file": "one file"}.get(st.kind, st.kind)
        n = len(st.decidable)
        score = {"max": "the highest view score", "noisy_or": "noisy-OR of the view scores"}.get(st.method, st.method)
        return (f"{st.name} — a pseudonymous key, never the patient, UID or folder\n"
                f"{len(st.views)} view(s), grouped as {how}; study score: {score}\n"
                f"F / N / D on this row decide all {n} readable view(s); Enter or → steps into the views "
                "to decide one view at a time")

    @staticmethod
    def _display(it, col: int) -> Optional[str]:
        if col == COL_FILE:
            return it.name
        if col == COL_PROB:
            return "—" if it.probability is None else f"{it.probability * 100:.0f}%"
        if col == COL_FLAG:
            if getattr(it, "out_of_scope", False):
                return "Out"  # of scope: the Problem column and the tooltip say why (fits the narrow column)
            return theme.FLAG_TEXT.get(it.flag or "", "")
        if col == COL_DECISION:
            return theme.LABEL_TEXT.get(it.label or "", "")
        if col == COL_REVIEWER:
            if it.reviewer or it.label is not None:
                return it.reviewer or ""
            if getattr(it, "settled", False):
                return "other reader"  # read by someone else; their label is not shown (core.reading)
            return "open elsewhere" if getattr(it, "held", False) else ""
        if col == COL_BODY:
            return " / ".join(x for x in (it.body_part, it.view) if x)
        if col == COL_ERROR:
            return it.error or _scope_text(it) or it.note or ""
        return None


_FONTS: dict = {}


def _bold() -> QFont:
    """The study rows' bold font (made once, after the application exists)."""
    font = _FONTS.get("bold")
    if font is None:
        font = _FONTS["bold"] = QFont()
        font.setBold(True)
    return font


def _scope_text(it) -> str:
    """The scope verdict as the table shows it (Problem column)."""
    if getattr(it, "scope", None) != "out_of_scope":
        return ""
    if getattr(it, "scope_marked_by", None):
        return f"in scope after all ({it.scope_marked_by}); model said: {it.scope_reason or 'out of scope'}"
    return f"out of scope: {it.scope_reason or 'unlike the training images'}"


class FileDelegate(QStyledItemDelegate):
    """The File column: a file name elided in the middle (its start and extension stay), a study row
    elided at its end, so the whole pseudonymous study key stays readable in a narrow table."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        it = index.data(_ITEM)
        option.textElideMode = _ELIDE_END if it is not None and it.is_study else _ELIDE_MIDDLE


_ELIDE_END, _ELIDE_MIDDLE = Qt.TextElideMode.ElideRight, Qt.TextElideMode.ElideMiddle


BAR_W, BAR_H = 64, 8  # the Probability column's bar (logical pixels), drawn left of the number


@lru_cache(maxsize=1024)
def probability_bar(colour: int, filled: int, ratio: float) -> QPixmap:
    """The Probability column's bar: a track with ``filled`` of its ``BAR_W`` pixels in ``colour``
    (ARGB), at the screen's device pixel ratio. One pixmap per colour and length, made once: the
    column is painted by Qt's own delegate from this decoration, with no Python code per painted
    row (a Python ``paint`` makes dozens of calls back into Qt, each of which gives up the GIL and
    waits for it again while a worker runs Python: beside a busy thread a repaint took 68-147 ms
    that way and 8-22 ms with the pixmap, ``tests/benchmarks/bench_table_paint.py``)."""
    pm = QPixmap(round(BAR_W * ratio), round(BAR_H * ratio))
    pm.setDevicePixelRatio(ratio)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(_TRACK)
    p.drawRoundedRect(QRectF(0, 0, BAR_W, BAR_H), 3, 3)
    if filled > 0:
        p.setBrush(QColor.fromRgba(colour))
        p.drawRoundedRect(QRectF(0, 0, filled, BAR_H), 3, 3)
    p.end()
    return pm


def bar_for(it, ratio: float) -> QPixmap:
    """The bar of the row ``it``: its probability as a length, its flag as the colour
    (``desktop.theme.flag_colour``); an empty track while it has no score."""
    prob = getattr(it, "probability", None)
    if prob is None:
        return probability_bar(0, 0, ratio)
    filled = max(2, int(BAR_W * min(1.0, max(0.0, prob))))
    return probability_bar(theme.flag_colour(getattr(it, "flag", None), prob).rgba(), filled, ratio)
