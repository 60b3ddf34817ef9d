"""Look of the app: a dark, neutral Fusion palette (radiographs are read on dark surroundings), one
style sheet, the flag colours shared by the table and the viewer, and the icon loader."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from core.resources import icon_path

# Flag colours: the same everywhere (table bar, probability header, toast).
DEFINITE = QColor("#e5534b")
SUSPICIOUS = QColor("#e8a33d")
LOW = QColor("#5b8db8")
UNSCORED = QColor("#6b7580")
LABEL_COLOURS = {"fracture": QColor("#ff6b5e"), "no_fracture": QColor("#5fd08a"), "doubt": QColor("#f5c451")}
LABEL_TEXT = {"fracture": "Fracture", "no_fracture": "No fracture", "doubt": "Doubt"}
FLAG_TEXT = {"definite": "Definite", "suspicious": "Suspicious"}

VIEWER_BACKGROUND = QColor("#101214")

_BG = "#1d2227"
_BASE = "#161a1e"
_ALT = "#1b2025"
_PANEL = "#242a31"
_TEXT = "#dfe4ea"
_MUTED = "#97a1ab"
_ACCENT = "#3d8fd1"

# Tables take their colours from the palette (Base, AlternateBase, Highlight, HighlightedText), not from
# a QTableView rule: with that rule every repaint of the window went through the style sheet's table
# styling, ~14 ms against ~2.5 ms without it (the worklist repaints often while a scan streams rows).
STYLE_SHEET = f"""
QMainWindow, QDialog {{ background: {_BG}; }}
QToolBar {{ background: {_PANEL}; border: none; border-bottom: 1px solid #2f363e; spacing: 2px; padding: 3px 6px; }}
QToolBar QToolButton {{ padding: 4px 6px; border-radius: 4px; }}
QToolBar QToolButton:hover {{ background: #323a43; }}
QToolBar QToolButton:checked {{ background: #2d4a63; }}
QStatusBar {{ background: {_PANEL}; color: {_MUTED}; border-top: 1px solid #2f363e; }}
QStatusBar QLabel {{ color: {_TEXT}; padding: 0 8px; }}
QHeaderView::section {{ background: {_PANEL}; color: {_MUTED}; border: none; border-right: 1px solid #2f363e;
                        border-bottom: 1px solid #2f363e; padding: 4px 6px; font-weight: 600; }}
QTabBar {{ font-size: 9pt; }}
QTabBar::tab {{ background: transparent; color: {_MUTED}; padding: 6px 5px; border: none;
               border-bottom: 2px solid transparent; }}
QTabBar::tab:selected {{ color: {_TEXT}; border-bottom: 2px solid {_ACCENT}; }}
QTabBar::tab:hover {{ color: {_TEXT}; }}
QProgressBar {{ background: #151a1f; border: 1px solid #39424c; border-radius: 3px; height: 14px;
               text-align: center; color: {_TEXT}; }}
QProgressBar::chunk {{ background: {_ACCENT}; border-radius: 2px; }}
QPushButton {{ background: #2c343c; border: 1px solid #3b454f; border-radius: 4px; padding: 5px 14px; color: {_TEXT}; }}
QPushButton:hover {{ background: #35404a; }}
QPushButton:default {{ border-color: {_ACCENT}; }}
QPushButton#primary {{ background: {_ACCENT}; border-color: {_ACCENT}; color: white; font-weight: 600; }}
QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox, QDateEdit, QKeySequenceEdit {{ background: {_BASE};
    border: 1px solid #3b454f; border-radius: 3px; padding: 3px 5px; color: {_TEXT}; }}
QTabWidget::pane {{ border: 1px solid #2f363e; background: {_BG}; }}
QSplitter::handle {{ background: #2a3138; }}
QLabel#muted {{ color: {_MUTED}; }}
QFrame#banner {{ background: #4a3a1a; border-bottom: 1px solid #6b5526; }}
QFrame#banner QLabel {{ color: #f3dfb4; }}
QFrame#infoPanel {{ background: {_PANEL}; border-top: 1px solid #2f363e; }}
QFrame#infoPanel QLabel {{ color: {_TEXT}; }}
QScrollBar:vertical {{ background: {_BASE}; width: 10px; }}
QScrollBar::handle:vertical {{ background: #3b454f; border-radius: 4px; min-height: 24px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    c = QColor
    pal.setColor(QPalette.ColorRole.Window, c(_BG))
    pal.setColor(QPalette.ColorRole.WindowText, c(_TEXT))
    pal.setColor(QPalette.ColorRole.Base, c(_BASE))
    pal.setColor(QPalette.ColorRole.AlternateBase, c(_ALT))
    pal.setColor(QPalette.ColorRole.ToolTipBase, c(_PANEL))
    pal.setColor(QPalette.ColorRole.ToolTipText, c(_TEXT))
    pal.setColor(QPalette.ColorRole.Text, c(_TEXT))
    pal.setColor(QPalette.ColorRole.Button, c("#2c343c"))
    pal.setColor(QPalette.ColorRole.ButtonText, c(_TEXT))
    pal.setColor(QPalette.ColorRole.Highlight, c("#2d4a63"))
    pal.setColor(QPalette.ColorRole.HighlightedText, c(_TEXT))
    pal.setColor(QPalette.ColorRole.Link, c("#6fb3ec"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, c(_MUTED))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, c("#66707a"))
    app.setPalette(pal)
    font = app.font()
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)


def flag_colour(flag: str | None, probability: float | None) -> QColor:
    if probability is None:
        return UNSCORED
    return {"definite": DEFINITE, "suspicious": SUSPICIOUS}.get(flag or "", LOW)


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons/<name>.svg`` (an empty icon when the file is missing)."""
    p = icon_path(f"{name}.svg")
    return QIcon(str(p)) if p.exists() else QIcon()


def app_icon() -> QIcon:
    ic = QIcon()
    for name in ("app.svg", "app.png"):
        p = icon_path(name)
        if p.exists():
            ic.addFile(str(p))
    return ic

