"""What the toast says after a decision key's write came back (``ReviewSession.decision_saved``): one
place for the wording of a decision, an undo and a redo — of one image, or of a study decision with
all its views (``core.triage.StudyDecision``; an undo or redo of one carries the other views' events
in ``group``). Plain text decisions, no widgets: returns the toast's HTML and accent colour.
"""

from __future__ import annotations

import html
from typing import Optional

from desktop import theme

LABEL_ACCENT = {k: c.name() for k, c in theme.LABEL_COLOURS.items()}
UNDO_COLOUR = "#97a1ab"
DEFAULT_ACCENT = "#3d8fd1"


def _views(n: int) -> str:
    return f"{n} view{'s' if n != 1 else ''}"


def decision_message(decision, name: str) -> tuple[str, str]:
    """(HTML, colour) for ``decision`` about the file ``name`` (a study decision names no file)."""
    label = getattr(decision, "label", None)
    accent = LABEL_ACCENT.get(label, DEFAULT_ACCENT)
    views = getattr(decision, "decisions", None)
    if views is not None:  # core.triage.StudyDecision: every view at once
        return (f"<b>{theme.LABEL_TEXT[label]}</b> recorded for the study — all {_views(len(views))}", accent)
    group: Optional[tuple] = getattr(decision, "group", ())
    if decision.is_undo and group:
        return (f"Undone — the study decision ({_views(1 + len(group))}) is back to its earlier state", UNDO_COLOUR)
    if decision.is_redo and group:
        return (f"Redone — <b>{theme.LABEL_TEXT[label]}</b> again for the study ({_views(1 + len(group))})", accent)
    name = html.escape(name)
    if decision.is_undo:
        restored = decision.restored.label if decision.restored is not None else None
        state = theme.LABEL_TEXT.get(restored, "to review") if restored else "to review"
        return (f"Undone — {name} is back to <b>{state}</b>", UNDO_COLOUR)
    if decision.is_redo:
        return (f"Redone — <b>{theme.LABEL_TEXT[label]}</b> again for {name}", accent)
    return (f"<b>{theme.LABEL_TEXT[label]}</b> recorded — {name}", accent)
