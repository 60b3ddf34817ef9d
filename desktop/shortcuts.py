"""The one shortcut table, its key profiles and the user's overrides of it.

Every keyboard action of the app is a *named action* (``fracture``, ``next``, ``heatmap`` …); the triage
ones are the named actions of ``core.triage``. This module maps names to key sequences: the defaults
below, or the OHIF profile (``PROFILES``; chosen in Settings, ``Settings.key_profile`` as resolved by
``core.config.key_profile``), merged with ``Settings.shortcuts`` (overrides per action). The main window creates one QAction per
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
    ActionSpec("study_mode", "List studies instead of images (again: images)", ("G",), _T),
    ActionSpec("step_in", "Study: step into its views (F/N/D then decide one view)", ("Return", "Right"), _T),
    ActionSpec("step_out", "Study: back to the study row (F/N/D decide every view)", ("Left",), _T),
    ActionSpec("heatmap", "Heatmap on/off", ("H",), _V),
    ActionSpec("invert", "Invert", ("I",), _V),
    ActionSpec("reset_view", "Reset view (fit, window, rotation, flips)", ("R",), _V),
    *(ActionSpec(f"preset_{i}", f"Window preset {i}", (str(i),), _V) for i in range(1, 10)),
    ActionSpec("fit", "Fit to window", ("Ctrl+0",), _V),
    ActionSpec("zoom_in", "Zoom in", ("+", "="), _V),
    ActionSpec("zoom_out", "Zoom out", ("-",), _V),
    ActionSpec("actual_size", "Actual size (1:1)", ("0",), _V),
    ActionSpec("rotate", "Rotate 90° clockwise", ("T",), _V),
    ActionSpec("rotate_left", "Rotate 90° counter-clockwise", ("Shift+T",), _V),
    ActionSpec("flip_horizontal", "Flip horizontally (mirror left–right)", ("M",), _V),
    ActionSpec("flip_vertical", "Flip vertically (mirror top–bottom)", ("Shift+M",), _V),
    ActionSpec("loupe", "Loupe 1:1 under the pointer on/off", ("L",), _V),
    ActionSpec("full_screen", "Full screen on/off", ("F11",), _V),
    ActionSpec("find", "Find a file by name", ("Ctrl+F",), _A),
    ActionSpec("open_folder", "Open folder…", ("Ctrl+O",), _A),
    ActionSpec("export", "Export labels…", ("Ctrl+E",), _A),
    ActionSpec("settings", "Settings…", ("Ctrl+,",), _A),
    ActionSpec("help", "Shortcut help", ("?", "F1"), _A),
)

# Key profiles: the default table above, or it changed where OHIF Viewer's default hotkeys differ
# (OHIF v3: Space reset, R/L rotate right/left, H/V flip, I invert, +/- zoom, = fit, Down/Up next/
# previous image, 1–9 window presets). What OHIF takes is moved: "next image" keeps J and Down
# (Space resets), "reset" leaves R (rotate), the heatmap goes from H (flip) to Shift+H, the loupe
# from L (rotate left) to M (OHIF's old magnify key), "=" leaves zoom in (fit). F/N/D/S, undo/redo
# and the app keys are the same in both profiles.
PROFILES: dict[str, dict[str, tuple[str, ...]]] = {
    "default": {},
    "ohif": {
        "reset_view": ("Space",),
        "next": ("Down", "J"),
        "previous": ("Up", "K"),
        "rotate": ("R",),
        "rotate_left": ("L",),
        "flip_horizontal": ("H",),
        "flip_vertical": ("V",),
        "heatmap": ("Shift+H",),
        "loupe": ("M",),
        "zoom_in": ("+",),
        "zoom_out": ("-",),
        "fit": ("=",),
    },
}
PROFILE_TITLES = {"default": "Fracture Triage (default)", "ohif": "OHIF Viewer"}

ACTIONS_BY_NAME: dict[str, ActionSpec] = {a.name: a for a in DEFAULT_ACTIONS}


def normalize(key: str) -> str:
    """A key sequence in Qt's portable text form (``"ctrl+z"`` → ``"Ctrl+Z"``); '' if not a key."""
    seq = QKeySequence(key.strip())
    return seq.toString(QKeySequence.SequenceFormat.PortableText) if not seq.isEmpty() else ""


def profile_keys(profile: str = "default") -> dict[str, list[str]]:
    """Action name → key sequences of a profile (an unknown profile is the default one)."""
    changed = PROFILES.get(profile, {})
    return {a.name: [normalize(k) for k in changed.get(a.name, a.keys)] for a in DEFAULT_ACTIONS}


def effective_shortcuts(overrides: dict[str, list[str]] | None = None, profile: str = "default") -> dict[str, list[str]]:
    """Action name → key sequences: the profile's, replaced per action by ``overrides`` (unknown action
    names and unparsable keys are ignored; an empty list removes an action's keys)."""
    result = profile_keys(profile)
    for name, keys in (overrides or {}).items():
        if name in result and isinstance(keys, list):
            result[name] = [k for k in (normalize(str(x)) for x in keys) if k]
    return result


def overrides_from(mapping: dict[str, list[str]], profile: str = "default") -> dict[str, list[str]]:
    """The part of ``mapping`` that differs from the profile's keys (what ``Settings.shortcuts`` stores)."""
    defaults = profile_keys(profile)
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
