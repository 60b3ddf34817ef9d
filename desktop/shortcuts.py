"""The one default shortcut table and the user's overrides of it.

Every keyboard action of the app is a *named action* (``fracture``, ``next``, ``heatmap`` …); the triage
ones are the named actions of ``core.triage``. This module maps names to key sequences: the defaults
below, merged with ``Settings.shortcuts`` (overrides per action). The main window creates one QAction per
name from ``effective_shortcuts``; the help overlay and the settings dialog show the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QKeySequence


@dataclass(frozen=True)
class ActionSpec:
    name: str
    label: str
    keys: tuple[str, ...]
    group: str


_T, _V, _A = "Triage", "Viewer", "App"

DEFAULT_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("fracture", "Fracture (confirm)", ("F",), _T),
    ActionSpec("no_fracture", "No fracture (reject)", ("N",), _T),
    ActionSpec("doubt", "Doubt / needs a second look", ("D",), _T),
    ActionSpec("undo", "Undo the last decision", ("Ctrl+Z", "Backspace"), _T),
    ActionSpec("redo", "Redo the last undone decision", ("Ctrl+Shift+Z", "Ctrl+Y"), _T),
    ActionSpec("in_scope", "Out-of-scope image: in scope after all (again: withdraw)", ("S",), _T),
    ActionSpec("next", "Next image", ("Space", "J", "Down"), _T),
    ActionSpec("previous", "Previous image", ("K", "Up"), _T),
    ActionSpec("heatmap", "Heatmap on/off", ("H",), _V),
    ActionSpec("invert", "Invert", ("I",), _V),
    ActionSpec("reset_view", "Reset view (fit, window, rotation)", ("R",), _V),
    ActionSpec("preset_1", "Window preset 1: as acquired", ("1",), _V),
    ActionSpec("preset_2", "Window preset 2: full range", ("2",), _V),
    ActionSpec("preset_3", "Window preset 3: high contrast", ("3",), _V),
    ActionSpec("preset_4", "Window preset 4: bone detail", ("4",), _V),
    ActionSpec("zoom_in", "Zoom in", ("+", "="), _V),
    ActionSpec("zoom_out", "Zoom out", ("-",), _V),
    ActionSpec("actual_size", "Actual size (1:1)", ("0",), _V),
    ActionSpec("rotate", "Rotate 90°", ("T",), _V),
    ActionSpec("find", "Find a file by name", ("Ctrl+F",), _A),
    ActionSpec("open_folder", "Open folder…", ("Ctrl+O",), _A),
    ActionSpec("export", "Export labels…", ("Ctrl+E",), _A),
    ActionSpec("settings", "Settings…", ("Ctrl+,",), _A),
    ActionSpec("help", "Shortcut help", ("?", "F1"), _A),
)

ACTIONS_BY_NAME: dict[str, ActionSpec] = {a.name: a for a in DEFAULT_ACTIONS}


def normalize(key: str) -> str:
    """A key sequence in Qt's portable text form (``"ctrl+z"`` → ``"Ctrl+Z"``); '' if not a key."""
    seq = QKeySequence(key.strip())
    return seq.toString(QKeySequence.SequenceFormat.PortableText) if not seq.isEmpty() else ""


def effective_shortcuts(overrides: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Action name → key sequences: the defaults, replaced per action by ``overrides`` (unknown action
    names and unparsable keys are ignored; an empty list removes an action's keys)."""
    result = {a.name: [normalize(k) for k in a.keys] for a in DEFAULT_ACTIONS}
    for name, keys in (overrides or {}).items():
        if name in result and isinstance(keys, list):
            result[name] = [k for k in (normalize(str(x)) for x in keys) if k]
    return result


def overrides_from(mapping: dict[str, list[str]]) -> dict[str, list[str]]:
    """The part of ``mapping`` that differs from the defaults (what ``Settings.shortcuts`` stores)."""
    defaults = effective_shortcuts()
    return {name: list(keys) for name, keys in mapping.items() if name in defaults and list(keys) != defaults[name]}


def conflicts(mapping: dict[str, list[str]]) -> dict[str, list[str]]:
    """Key sequence → the action names bound to it, for keys bound more than once."""
    seen: dict[str, list[str]] = {}
    for name, keys in mapping.items():
        for k in keys:
            seen.setdefault(k, []).append(name)
    return {k: names for k, names in seen.items() if len(names) > 1}


def display(keys: list[str]) -> str:
    """Keys as shown to a user: native text, joined with ' or '."""
    shown = [QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys]
    return " or ".join(s for s in shown if s) or "—"
