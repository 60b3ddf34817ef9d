"""QActions for every named action of ``desktop.shortcuts`` (keys from the effective table), plus the
menu bar and the toolbar built from them. Handlers are looked up by name on the main window."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QMainWindow, QMenu, QSizePolicy, QSlider, QToolBar, QWidget

from desktop import shortcuts, theme

ICONS = {
    "open_folder": "open-folder", "export": "export", "fit": "fit", "actual_size": "actual-size",
    "zoom_in": "zoom-in", "zoom_out": "zoom-out", "rotate": "rotate", "invert": "invert", "heatmap": "heatmap",
    "help": "keyboard", "settings": "settings", "about": "info", "fracture": "fracture",
    "no_fracture": "no-fracture", "doubt": "doubt", "undo": "undo", "next": "next", "previous": "previous",
    "reset_view": "fit", "demo": "demo", "redo": "redo", "find": "find", "rotate_left": "rotate-left",
    "flip_horizontal": "flip-horizontal", "flip_vertical": "flip-vertical", "loupe": "loupe", "full_screen": "full-screen",
    "study_mode": "studies",
}
CHECKABLE = ("heatmap", "invert", "loupe", "full_screen", "thumbnails", "study_mode")


class Actions:
    """All the window's actions by name; ``apply_keys`` re-binds them after a remap in Settings."""

    def __init__(self, window: QMainWindow, handler: Callable[[str], None]) -> None:
        self.window = window
        self.by_name: dict[str, QAction] = {}
        extra = (("about", "About Fracture Triage and the model"), ("demo", "Open the demo images"),
                 ("quit", "Quit"), ("model", "Model: performance, calibration, models…"),
                 ("reader", "Reader: who reads here, role, aided or blinded…"),
                 ("agreement", "Agreement between readers…"),
                 ("thumbnails", "Thumbnails in the worklist"),
                 ("clear_thumbnails", "Clear the thumbnail cache on this computer…"))
        specs = [(s.name, s.label) for s in shortcuts.DEFAULT_ACTIONS] + list(extra)
        for name, label in specs:
            act = QAction(label, window)
            act.setObjectName(f"action_{name}")
            if name in ICONS:
                act.setIcon(theme.icon(ICONS[name]))
            act.setCheckable(name in CHECKABLE)
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(lambda _checked=False, n=name: handler(n))
            window.addAction(act)
            self.by_name[name] = act
        self.by_name["quit"].setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))

    def __getitem__(self, name: str) -> QAction:
        return self.by_name[name]

    def apply_keys(self, mapping: dict[str, list[str]]) -> None:
        for name, keys in mapping.items():
            act = self.by_name.get(name)
            if act is not None:
                act.setShortcuts([QKeySequence(k) for k in keys])
                first = shortcuts.display(keys[:1]) if keys else ""
                base = act.text()
                act.setToolTip(f"{base} ({first})" if first else base)

    def build_menus(self, recent_menu: QMenu) -> None:
        bar = self.window.menuBar()
        f = bar.addMenu("&File")
        for n in ("open_folder",):
            f.addAction(self[n])
        f.addMenu(recent_menu)
        f.addAction(self["demo"])
        f.addSeparator()
        f.addAction(self["export"])
        f.addAction(self["settings"])
        f.addSeparator()
        f.addAction(self["quit"])
        r = bar.addMenu("&Review")
        for n in ("fracture", "no_fracture", "doubt", "undo", "redo", None, "in_scope", None, "next", "previous", None, "find",
                  None, "study_mode", "step_in", "step_out", None, "reader", "agreement"):
            r.addSeparator() if n is None else r.addAction(self[n])
        v = bar.addMenu("&View")
        for n in ("heatmap", "invert", None, "rotate", "rotate_left", "flip_horizontal", "flip_vertical", None,
                  "fit", "actual_size", "zoom_in", "zoom_out", "loupe", "reset_view", None, "full_screen", None,
                  "thumbnails", "clear_thumbnails"):
            v.addSeparator() if n is None else v.addAction(self[n])
        self.presets_menu = v.addMenu("Window &presets")
        for i in range(1, 10):
            self.presets_menu.addAction(self[f"preset_{i}"])
        m = bar.addMenu("&Model")
        m.addAction(self["model"])
        h = bar.addMenu("&Help")
        h.addAction(self["help"])
        h.addAction(self["about"])

    def build_toolbar(self, presets: QComboBox, opacity: QSlider) -> QToolBar:
        tb = QToolBar("Tools", self.window)
        tb.setObjectName("toolbar")
        tb.setMovable(False)
        tb.setFloatable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)
        for n in ("open_folder", "export"):
            tb.addAction(self[n])
        tb.addSeparator()
        for n in ("fracture", "no_fracture", "doubt", "undo"):
            tb.addAction(self[n])
        tb.addSeparator()
        tb.addAction(self["study_mode"])  # icon only (checked: studies listed), so the toolbar fits 1366 px
        for n in ("fit", "actual_size", "rotate", "flip_horizontal", "invert", "loupe"):
            tb.addAction(self[n])
        tb.addWidget(presets)
        tb.addSeparator()
        tb.addAction(self["heatmap"])
        tb.addWidget(opacity)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        tb.addAction(self["help"])
        tb.addAction(self["settings"])
        tb.addAction(self["about"])
        short = {"open_folder": "Open", "export": "Export", "fracture": "Fracture", "no_fracture": "No fracture",
                 "doubt": "Doubt", "undo": "Undo", "study_mode": "", "fit": "", "actual_size": "", "rotate": "",
                 "rotate_left": "", "flip_horizontal": "", "loupe": "", "invert": "", "heatmap": "Heatmap", "help": "",
                 "settings": "", "about": ""}
        for n, text in short.items():
            self[n].setIconText(text or self[n].text())
            btn = tb.widgetForAction(self[n])
            if btn is not None:
                btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                if not text:
                    btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        return tb


def opacity_slider(value: float) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(10, 90)
    s.setValue(int(round(value * 100)))
    s.setFixedWidth(56)  # the toolbar fits 1366 px with the study mode's button
    s.setToolTip("Heatmap opacity")
    s.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return s


def preset_combo() -> QComboBox:
    """The window presets of the image shown (filled by ``fill_presets``)."""
    c = QComboBox()
    c.setToolTip("Window presets of this image (keys 1–9): as read, the file's own windows, then full range, "
                 "high contrast, bone detail. Right-drag on the image for window/level.")
    c.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    c.setMinimumContentsLength(11)  # the toolbar keeps its width; the list shows the whole names
    fill_presets(c, [])
    return c


def preset_labels(presets) -> list[str]:
    """What the combo and the menu show for an image's presets (``core.imaging.presets.Preset``)."""
    if not presets:
        from core.imaging.presets import PRESET_NAMES

        return list(PRESET_NAMES)
    return [p.label for p in presets]


def fill_presets(combo: QComboBox, presets) -> None:
    items = [f"{i}  {t}" if i <= 9 else f"   {t}" for i, t in enumerate(preset_labels(presets), start=1)]
    if [combo.itemText(i) for i in range(combo.count())] == items:
        return
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(items)
    combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)  # the list shows whole names
    combo.blockSignals(False)
