"""The worklist panel: the filter tabs (each with its count) over the sortable table that shows
``desktop.worklist_model.WorklistModel``, the current row kept across the order's resets, and a
row picked by the user named by its key (``image_activated``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Optional

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QFrame, QHeaderView, QLabel, QTabBar, QTableView, QVBoxLayout, QWidget

from core.reading import MODEL_FILTERS
from core.worklist import FILTER_TITLES, FILTERS
from desktop.worklist_model import (COL_BODY, COL_DECISION, COL_ERROR, COL_FILE, COL_FLAG, COL_PROB, COL_REVIEWER,
                                    ITEM_ROLE, ROW_KEY_ROLE, FileDelegate, WorklistModel)


class WorklistPanel(QWidget):
    """Filter tabs with counts over the sortable worklist table."""

    filter_selected = Signal(str)  # filter name, when the user picks a tab
    image_activated = Signal(str)  # worklist key (image id, or path of an unreadable file), on a mouse pick
    step_in_requested = Signal()  # a double click on a study row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = WorklistModel(self)
        self.tabs = QTabBar(self)
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        self.tabs.setUsesScrollButtons(True)
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._filters = list(FILTERS)
        self._blinded = False
        for name in self._filters:
            self.tabs.addTab(FILTER_TITLES[name])
        self.tabs.currentChanged.connect(self._tab_changed)
        self.caption = QLabel("")  # the study mode says what a row is and what the counts count
        self.caption.setObjectName("muted")
        self.caption.setContentsMargins(8, 2, 8, 2)
        self.caption.setWordWrap(True)
        self.caption.hide()
        self.table = QTableView(self)
        self.table.setObjectName("worklist")
        self.table.setModel(self.model)
        self.model.pixel_ratio = self.devicePixelRatioF()  # the Probability column's bars (the model's decoration)
        # Study rows are elided at their end by a Python delegate; image rows need none (the table's own
        # middle elision), so the File column is painted without a call into Python per row.
        self._file_delegate = FileDelegate(self.table)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setFrameShape(QFrame.Shape.NoFrame)  # colours from the palette (desktop.theme)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the probability order
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        self.table.horizontalHeader().setSortIndicatorClearable(True)  # third click: back to probability order
        self.table.horizontalHeader().sortIndicatorChanged.connect(
            lambda *_: self.table.horizontalHeader().setSortIndicatorShown(True))
        vh = self.table.verticalHeader()
        vh.hide()
        self._text_row_height = max(24, self.fontMetrics().height() + 10)
        vh.setDefaultSectionSize(self._text_row_height)
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
        self._key_before_reset: Optional[str] = None  # a sort resets the model: the current row stays current
        self.model.modelAboutToBeReset.connect(self._remember_current)
        self.model.modelReset.connect(lambda: self.select_key(self._key_before_reset))
        self.model.modelReset.connect(self._fit_delegates)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.tabs)
        lay.addWidget(self.caption)
        lay.addWidget(self.table, 1)
        self.table.doubleClicked.connect(self._double_clicked)

    # -- thumbnails ------------------------------------------------------------------------------------
    def set_thumbnails(self, loader) -> None:
        """Thumbnails from ``loader`` (``desktop.thumbnails.ThumbnailLoader``) beside each file name,
        rows tall enough for them while the loader is enabled."""
        self.model.set_thumbnails(loader)
        self.show_thumbnails(loader is not None and loader.enabled)

    def show_thumbnails(self, on: bool) -> None:
        loader = self.model._thumbs
        on = bool(on) and loader is not None
        if loader is not None:
            loader.set_enabled(on)
            loader.set_size(loader.side, self.devicePixelRatioF())
        side = loader.side if on else 0
        self.table.setIconSize(QSize(side, side) if on else QSize(16, 16))
        self.table.verticalHeader().setDefaultSectionSize(max(self._text_row_height, side + 6))
        if self.model.rowCount():
            self.model.dataChanged.emit(self.model.index(0, COL_FILE),
                                        self.model.index(self.model.rowCount() - 1, COL_FILE),
                                        [Qt.ItemDataRole.DecorationRole])

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

    def set_counts(self, counts: dict[str, int], studies: Optional[dict[str, int]] = None) -> None:
        """Image counts per filter; in the study mode also the study counts (shown first, the images in
        brackets: "To review 12 (31)")."""
        for i, name in enumerate(self._filters):
            n = counts.get(name)
            s = studies.get(name) if studies is not None else None
            if s is not None:
                text = f"{FILTER_TITLES[name]} {s:,} ({n or 0:,})"
                tip = f"{s:,} stud{'y' if s == 1 else 'ies'}, {n or 0:,} image{'s' if n != 1 else ''}"
            else:
                text = FILTER_TITLES[name] if n is None else f"{FILTER_TITLES[name]} {n:,}"
                tip = "" if n is None else f"{n:,} image{'s' if n != 1 else ''}"
            if self.tabs.tabText(i) != text:  # each change lays the tab bar out again (counts come every 80 ms)
                self.tabs.setTabText(i, text)
            if self.tabs.tabToolTip(i) != tip:
                self.tabs.setTabToolTip(i, tip)

    def _fit_delegates(self) -> None:
        studies = self.model.studies
        if (self.table.itemDelegateForColumn(COL_FILE) is self._file_delegate) != studies:
            self.table.setItemDelegateForColumn(COL_FILE, self._file_delegate if studies else None)

    def set_study_mode(self, on: bool) -> None:
        self._fit_delegates()
        self.caption.setText("Rows are studies; tab counts: studies (images). F/N/D on a study row decide all its "
                             "views · Enter/→: one view at a time · ←: back to the study" if on else "")
        self.caption.setVisible(on)

    def _double_clicked(self, index: QModelIndex) -> None:
        it = index.data(ITEM_ROLE)
        if it is not None and it.is_study:
            self.step_in_requested.emit()

    def _tab_changed(self, index: int) -> None:
        name = self._filters[index]
        self._adapt_columns(name)
        self.filter_selected.emit(name)

    def set_blinded(self, on: bool) -> None:
        """Blinded reading (``core.reading``): no Probability or Flag column, no tab that tells the flag."""
        self._blinded = bool(on)
        for i, name in enumerate(self._filters):
            visible = not (self._blinded and name in MODEL_FILTERS)
            if self.tabs.isTabVisible(i) != visible:  # each change lays the tab bar out again
                self.tabs.setTabVisible(i, visible)
        self.refresh_columns()

    def _adapt_columns(self, name: str) -> None:
        errors = name == "errors"
        notes, body = self.model.column_facts()
        hidden = {col: errors or (self._blinded and col in (COL_PROB, COL_FLAG))
                  for col in (COL_PROB, COL_FLAG, COL_DECISION, COL_REVIEWER)}
        hidden[COL_ERROR] = not (errors or notes)  # a reader's note (multi-page TIFF, part of a JPEG missing...)
        hidden[COL_BODY] = errors or not body
        for col, hide in hidden.items():
            if self.table.isColumnHidden(col) != hide:  # each change lays the header and the rows out again
                self.table.setColumnHidden(col, hide)

    def refresh_columns(self) -> None:
        self._adapt_columns(self.current_filter())

    # -- rows ------------------------------------------------------------------------------------------
    def shown_items(self) -> list:
        """The rows as the table shows them (tests, screenshots)."""
        return [self.model.item(r) for r in range(self.model.rowCount())]

    def select_key(self, key: Optional[str]) -> None:
        """Make the row named ``key`` (``core.order.row_key``) current and visible (no ``image_activated``)."""
        row = self.model.row_of(key) if key else -1
        self._programmatic = True
        try:
            if row < 0:
                self.table.selectionModel().clearSelection()
                return
            idx = self.model.index(row, 0)
            self.table.selectionModel().setCurrentIndex(idx, QItemSelectionFlags.ROWS)
            self.table.scrollTo(idx, QAbstractItemView.ScrollHint.EnsureVisible)
        finally:
            self._programmatic = False

    @contextmanager
    def quietly(self):
        """Row changes made meanwhile (by Qt itself, e.g. when the table is first shown) are not picks."""
        was, self._programmatic = self._programmatic, True
        try:
            yield
        finally:
            self._programmatic = was

    def _remember_current(self) -> None:
        idx = self.table.currentIndex()
        self._key_before_reset = idx.data(ROW_KEY_ROLE) if idx.isValid() else None

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._programmatic or self.model.changing or not current.isValid():
            return
        key = current.data(ROW_KEY_ROLE)
        if key:
            self.image_activated.emit(key)


class QItemSelectionFlags:
    from PySide6.QtCore import QItemSelectionModel as _M

    ROWS = _M.SelectionFlag.ClearAndSelect | _M.SelectionFlag.Rows
