"""The find bar above the worklist (Ctrl+F): type part of a file name and the review order jumps to
the first matching row at or after the current one; Enter / F3 the next match, Shift+Enter /
Shift+F3 the previous one, Esc closes it and gives the keys back to the viewer. Which row matches is
``core.find``'s answer; this widget only shows it ("2 of 5") and asks the window to move there.

While the field has the focus, letters go into it, never to the triage keys (F/N/D are not decided
by typing a name), and Enter is the field's, not the window's "step into the study" key. When the
current filter hides every match, it says so and offers the All list.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from core.find import BACKWARD, FORWARD, HERE, FindResult
from desktop import theme


class FindBar(QFrame):
    find_requested = Signal(str, int)  # text, core.find step (HERE / FORWARD / BACKWARD)
    show_all_requested = Signal(str)  # text: switch to the All list and find it there
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findbar")
        self.setStyleSheet("QFrame#findbar { border-bottom: 1px solid #2b3239; }")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 5, 6, 5)
        lay.setSpacing(6)
        self.edit = QLineEdit()
        self.edit.setObjectName("find_text")
        self.edit.setPlaceholderText("Find a file by name…")
        self.edit.setClearButtonEnabled(True)
        self.edit.addAction(theme.icon("find"), QLineEdit.ActionPosition.LeadingPosition)
        self.edit.textEdited.connect(lambda text: self.find_requested.emit(text, HERE))
        self.edit.returnPressed.connect(self._enter)
        self.edit.installEventFilter(self)  # Enter typed here is the field's (see eventFilter)
        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.status.setMinimumWidth(90)
        self.prev_btn = self._button("previous", "Previous match (Shift+Enter)", lambda: self._step(BACKWARD))
        self.next_btn = self._button("next", "Next match (Enter)", lambda: self._step(FORWARD))
        close = self._button("cancel", "Close (Esc)", self.close_bar)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.prev_btn)
        lay.addWidget(self.next_btn)
        lay.addWidget(close)
        for keys, fn in ((("Shift+Return", "Shift+Enter", "Shift+F3"), lambda: self._step(BACKWARD)),
                         (("F3",), lambda: self._step(FORWARD)), (("Escape",), self.close_bar)):
            for k in keys:
                sc = QShortcut(QKeySequence(k), self.edit)
                sc.setContext(Qt.ShortcutContext.WidgetShortcut)
                sc.activated.connect(fn)
        self._offer_all = False
        self.hide()

    def _button(self, icon: str, tip: str, slot) -> QToolButton:
        b = QToolButton()
        b.setIcon(theme.icon(icon))
        b.setToolTip(tip)
        b.setAutoRaise(True)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.clicked.connect(slot)
        return b

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Enter in the field is never a window shortcut (the study mode's step-in key is Return)."""
        if (obj is self.edit and event.type() == QEvent.Type.ShortcutOverride
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)):
            event.accept()
        return super().eventFilter(obj, event)

    def open_bar(self) -> None:
        self.show()
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()

    @property
    def text(self) -> str:
        return self.edit.text()

    def _step(self, step: int) -> None:
        if self.edit.text().strip():
            self.find_requested.emit(self.edit.text(), step)

    def _enter(self) -> None:
        if self._offer_all:
            self.show_all_requested.emit(self.edit.text())
        else:
            self._step(FORWARD)

    def show_result(self, result: FindResult, list_title: str) -> None:
        """Show where the find landed (``list_title``: the current filter, as its tab reads)."""
        self._offer_all = False
        text = self.edit.text().strip()
        if not text:
            self.status.setText("")
            self.status.setToolTip("")
        elif result.row is not None:
            more = f" (+{result.hidden} in other lists)" if result.hidden else ""
            self.status.setText(f"{result.index} of {result.count}{more}")
            self.status.setToolTip("Enter: next match · Shift+Enter: previous · Esc: close")
        elif result.hidden:
            self._offer_all = True
            self.status.setText(f"Not in {list_title} — Enter shows {result.hidden} in All")
            self.status.setToolTip("The current list's filter hides the matching files")
        else:
            self.status.setText("No file name matches")
            self.status.setToolTip("")
        self.prev_btn.setEnabled(result.count > 1)
        self.next_btn.setEnabled(result.count > 1)
