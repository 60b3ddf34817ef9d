"""The worklist table: a Qt model over ``core.worklist.Worklist``, the probability-bar delegate, and
the panel with the filter tabs (each with its count) above the table.

The model mirrors the worklist's rows in its own list and follows the worklist's change
notifications ('reset', 'inserted', 'updated', 'removed') with the matching begin/end calls, so views
(and pytest-qt's model tester) always see a consistent model while a scan adds rows.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, QSortFilterProxyModel, Qt,
                            Signal)
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QStyle, QStyledItemDelegate, QStyleOptionViewItem,
                               QTabBar, QTableView, QVBoxLayout, QWidget)

from core.worklist import FILTER_TITLES, FILTERS
from desktop import theme

COLUMNS = ("File", "Probability", "Flag", "Decision", "Reviewer", "Body part / view", "Problem / note")
COL_FILE, COL_PROB, COL_FLAG, COL_DECISION, COL_REVIEWER, COL_BODY, COL_ERROR = range(len(COLUMNS))
ITEM_ROLE = Qt.ItemDataRole.UserRole + 1  # the WorkItem
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # a sortable key per column
IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 3



def _change_parts(change: Any) -> tuple[str, list[int]]:
    kind = getattr(change, "kind", None)
    rows = getattr(change, "rows", None)
    if kind is None and isinstance(change, (tuple, list)):
        kind, rows = change[0], (change[1] if len(change) > 1 else ())
    return str(kind), sorted(int(r) for r in (rows or ()))


def _ranges(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers → contiguous (first, last) ranges."""
    out: list[tuple[int, int]] = []
    for r in rows:
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


class WorklistModel(QAbstractTableModel):
    """Read-only table over a core Worklist (or nothing, before a folder is open)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._worklist = None
        self._unsubscribe = None
        self._items: list = []

    # -- binding ---------------------------------------------------------------------------------------
    @property
    def worklist(self):
        return self._worklist

    def set_worklist(self, worklist) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.beginResetModel()
        self._worklist = worklist
        self._items = [worklist[i] for i in range(len(worklist))] if worklist is not None else []
        self.endResetModel()
        if worklist is not None:
            self._unsubscribe = worklist.subscribe(self._on_change)

    def _on_change(self, change: Any) -> None:
        wl = self._worklist
        kind, rows = _change_parts(change)
        if kind == "inserted":
            for first, last in _ranges(rows):
                self.beginInsertRows(QModelIndex(), first, last)
                self._items[first:first] = [wl[i] for i in range(first, last + 1)]
                self.endInsertRows()
        elif kind == "removed":
            for first, last in reversed(_ranges(rows)):
                self.beginRemoveRows(QModelIndex(), first, last)
                del self._items[first:last + 1]
                self.endRemoveRows()
        elif kind == "updated":
            for first, last in _ranges(rows):
                if last >= len(self._items):
                    continue
                for i in range(first, last + 1):
                    self._items[i] = wl[i]
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        else:  # 'reset' or anything unknown: rebuild
            self.beginResetModel()
            self._items = [wl[i] for i in range(len(wl))] if wl is not None else []
            self.endResetModel()

    def item(self, row: int):
        return self._items[row] if 0 <= row < len(self._items) else None

    def row_of(self, key: str) -> int:
        """Row of an image (by image id) or of an unreadable file (by its path)."""
        for i, it in enumerate(self._items):
            if (it.error is None and it.image_id == key) or (it.error is not None and str(it.path) == key):
                return i
        return -1

    # -- QAbstractTableModel ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        it = self._items[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(it, col)
        if role == ITEM_ROLE:
            return it
        if role == IMAGE_ID_ROLE:  # the worklist's key: image id, or the path of an unreadable file
            return it.image_id if it.error is None and it.image_id else str(it.path)
        if role == SORT_ROLE:
            return self._sort_key(it, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_ERROR or (col == COL_FILE and (it.error or it.note)):
                if it.error:
                    return f"{it.path}\n{it.error}"
                note = it.note
                return f"{it.path}\nNote: {note}" if note else str(it.path)
            if col == COL_FILE:
                return str(it.path)
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_DECISION and it.label in theme.LABEL_COLOURS:
                return theme.LABEL_COLOURS[it.label]
            if col == COL_FLAG and it.flag:
                return theme.flag_colour(it.flag, it.probability)
            if col == COL_ERROR:
                return QColor("#f0a58f") if it.error else QColor("#b9c2cb")
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if col == COL_PROB:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(it, col: int) -> Optional[str]:
        if col == COL_FILE:
            return it.name
        if col == COL_PROB:
            return "—" if it.probability is None else f"{it.probability * 100:.0f}%"
        if col == COL_FLAG:
            return theme.FLAG_TEXT.get(it.flag or "", "")
        if col == COL_DECISION:
            return theme.LABEL_TEXT.get(it.label or "", "")
        if col == COL_REVIEWER:
            return it.reviewer or ""
        if col == COL_BODY:
            return " / ".join(x for x in (it.body_part, it.view) if x)
        if col == COL_ERROR:
            return it.error or it.note or ""
        return None

    @staticmethod
    def _sort_key(it, col: int):
        if col == COL_PROB:
            return -1.0 if it.probability is None else float(it.probability)
        if col == COL_FLAG:
            return {"definite": 2, "suspicious": 1}.get(it.flag or "", 0)
        value = WorklistModel._display(it, col)
        return (value or "").lower()


class ProbabilityDelegate(QStyledItemDelegate):
    """Probability as a number and a bar coloured by the model card's flag."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        it = index.data(ITEM_ROLE)
        r = option.rect.adjusted(6, 0, -6, 0)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        number_w = 40
        painter.setPen(QPen(option.palette.text().color()))
        painter.drawText(QRect(r.left(), r.top(), number_w, r.height()),
                         int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)
        track = QRect(r.left() + number_w + 8, r.center().y() - 4, max(10, r.width() - number_w - 8), 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#2a3138"))
        painter.drawRoundedRect(track, 3, 3)
        p = getattr(it, "probability", None)
        if p is not None:
            fill = QRect(track.left(), track.top(), max(2, int(track.width() * min(1.0, max(0.0, p)))), track.height())
            painter.setBrush(theme.flag_colour(getattr(it, "flag", None), p))
            painter.drawRoundedRect(fill, 3, 3)
        painter.restore()


class WorklistPanel(QWidget):
    """Filter tabs with counts over the sortable worklist table."""

    filter_selected = Signal(str)  # filter name, when the user picks a tab
    image_activated = Signal(str)  # worklist key (image id, or path of an unreadable file), on a mouse pick

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = WorklistModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setDynamicSortFilter(True)
        self.tabs = QTabBar(self)
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        self.tabs.setUsesScrollButtons(True)
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._filters = list(FILTERS)
        for name in self._filters:
            self.tabs.addTab(FILTER_TITLES[name])
        self.tabs.currentChanged.connect(self._tab_changed)
        self.table = QTableView(self)
        self.table.setObjectName("worklist")
        self.table.setModel(self.proxy)
        self.table.setItemDelegateForColumn(COL_PROB, ProbabilityDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        self.table.horizontalHeader().setSortIndicatorClearable(True)  # third click: back to probability order
        self.table.horizontalHeader().sortIndicatorChanged.connect(
            lambda *_: self.table.horizontalHeader().setSortIndicatorShown(True))
        self.proxy.sort(-1)
        vh = self.table.verticalHeader()
        vh.hide()
        vh.setDefaultSectionSize(max(24, self.fontMetrics().height() + 10))
        hh = self.table.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(False)
        hh.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        widths = {COL_PROB: 122, COL_FLAG: 80, COL_DECISION: 92, COL_REVIEWER: 86, COL_BODY: 110, COL_ERROR: 300}
        for col, w in widths.items():
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(col, w)
        self.table.setColumnHidden(COL_ERROR, True)
        self.table.setColumnHidden(COL_BODY, True)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self._programmatic = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.tabs)
        lay.addWidget(self.table, 1)

    # -- filters ---------------------------------------------------------------------------------------
    def current_filter(self) -> str:
        return self._filters[max(0, self.tabs.currentIndex())]

    def show_filter(self, name: str) -> None:
        """Select the tab for ``name`` without emitting ``filter_selected``."""
        if name in self._filters:
            self.tabs.blockSignals(True)
            self.tabs.setCurrentIndex(self._filters.index(name))
            self.tabs.blockSignals(False)
            self._adapt_columns(name)

    def set_counts(self, counts: dict[str, int]) -> None:
        for i, name in enumerate(self._filters):
            n = counts.get(name)
            self.tabs.setTabText(i, FILTER_TITLES[name] if n is None else f"{FILTER_TITLES[name]} {n:,}")

    def _tab_changed(self, index: int) -> None:
        name = self._filters[index]
        self._adapt_columns(name)
        self.filter_selected.emit(name)

    def _adapt_columns(self, name: str) -> None:
        errors = name == "errors"
        for col in (COL_PROB, COL_FLAG, COL_DECISION, COL_REVIEWER):
            self.table.setColumnHidden(col, errors)
        self.table.setColumnHidden(COL_ERROR, not (errors or self._has_notes()))
        self.table.setColumnHidden(COL_BODY, errors or not self._has_body_info())

    def _has_body_info(self) -> bool:
        return any(getattr(it, "body_part", None) or getattr(it, "view", None) for it in self.model._items[:500])

    def _has_notes(self) -> bool:
        """Some listed image carries a reader's note (multi-page TIFF, part of a JPEG missing...)."""
        return any(it.error is None and it.note for it in self.model._items[:2000])

    def refresh_columns(self) -> None:
        self._adapt_columns(self.current_filter())

    # -- rows ------------------------------------------------------------------------------------------
    def is_sorted_by_user(self) -> bool:
        return self.proxy.sortColumn() >= 0

    def view_order(self) -> list:
        """The worklist's items in the order the table shows them."""
        return [self.proxy.index(r, 0).data(ITEM_ROLE) for r in range(self.proxy.rowCount())]

    def select_image(self, image_id: Optional[str]) -> None:
        """Make ``image_id``'s row current and visible (no ``image_activated``)."""
        row = self.model.row_of(image_id) if image_id else -1
        self._programmatic = True
        try:
            if row < 0:
                self.table.selectionModel().clearSelection()
                return
            pidx = self.proxy.mapFromSource(self.model.index(row, 0))
            self.table.selectionModel().setCurrentIndex(
                pidx, QItemSelectionFlags.ROWS)
            self.table.scrollTo(pidx, QAbstractItemView.ScrollHint.EnsureVisible)
        finally:
            self._programmatic = False

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._programmatic or not current.isValid():
            return
        image_id = current.data(IMAGE_ID_ROLE)
        if image_id:
            self.image_activated.emit(image_id)


class QItemSelectionFlags:
    from PySide6.QtCore import QItemSelectionModel as _M

    ROWS = _M.SelectionFlag.ClearAndSelect | _M.SelectionFlag.Rows
