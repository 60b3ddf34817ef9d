"""The shortcut help shown by ``?``: an overlay over the main window listing the effective key table
(defaults plus the user's remapping), grouped; ``?`` or Esc closes it."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from desktop import shortcuts


DIGITS = "1–9"  # the nine preset keys shown as one

class ShortcutHelp(QWidget):
    """Dims the window and shows the key table in a centred card."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutHelp")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.card = QFrame(self)
        self.card.setObjectName("helpCard")
        self.card.setStyleSheet("QFrame#helpCard { background: #242a31; border: 1px solid #3b454f; border-radius: 10px; }"
                                " QLabel { color: #dfe4ea; }")
        self._lay = QVBoxLayout(self.card)
        self._lay.setContentsMargins(26, 20, 26, 20)
        self.hide()

    def populate(self, mapping: dict[str, list[str]]) -> None:
        while self._lay.count():
            w = self._lay.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        title = QLabel("<span style='font-size:15pt; font-weight:700'>Keyboard shortcuts</span>"
                       "<br><span style='color:#97a1ab'>The whole review works without the mouse. "
                       "Remap keys in Settings. Press ? or Esc to close.</span>")
        self._lay.addWidget(title)
        columns = QWidget()
        grid = QGridLayout(columns)
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(4)
        groups: dict[str, list] = {}
        for spec in shortcuts.DEFAULT_ACTIONS:
            groups.setdefault(spec.group, []).append(spec)
        col = 0
        for group, specs in groups.items():
            row = 0
            head = QLabel(f"<span style='color:#6fb3ec; font-weight:700'>{html.escape(group.upper())}</span>")
            grid.addWidget(head, row, col, 1, 2)
            row += 1
            for spec in specs:
                keys = mapping.get(spec.name, [])
                label = spec.label
                if spec.name.startswith("preset_"):  # nine rows in one: "1–9  Window presets"
                    if spec.name != "preset_1":
                        continue
                    firsts = [mapping.get(f"preset_{i}", [""])[:1] for i in range(1, 10)]
                    keys = [DIGITS] if firsts == [[str(i)] for i in range(1, 10)] else [k[0] for k in firsts if k]
                    label = "Window presets: as read, the file windows, then data-driven"
                key_html = " ".join(
                    f"<span style='background:#1a1f24; border:1px solid #4a5560; border-radius:3px;"
                    f" padding:1px 6px; font-weight:600'>&nbsp;{html.escape(k if k == DIGITS else shortcuts.display([k]))}&nbsp;</span>"
                    for k in keys) or "<span style='color:#66707a'>—</span>"
                k = QLabel(key_html)
                k.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(k, row, col)
                grid.addWidget(QLabel(html.escape(label, quote=False)), row, col + 1)
                row += 1
            col += 2
        self._lay.addWidget(columns)
        foot = QLabel("<span style='color:#97a1ab'>Right-drag: window/level · Wheel: zoom about the cursor · "
                      "Drag: pan · Double-click: fit</span>")
        self._lay.addWidget(foot)

    def open_over(self, mapping: dict[str, list[str]]) -> None:
        self.populate(mapping)
        self.setGeometry(self.parentWidget().rect())
        self.card.adjustSize()
        self._center()
        self.show()
        self.raise_()
        self.setFocus()

    def _center(self) -> None:
        self.card.move((self.width() - self.card.width()) // 2, (self.height() - self.card.height()) // 2)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._center()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0, 150))

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Question, Qt.Key.Key_F1):
            self.hide()
            event.accept()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event) -> None:
        self.hide()
