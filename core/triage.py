"""Keyboard triage for one reviewer over a ``ReviewOrder`` and a ``Store``: where the reviewer is
(``current``, a row of the order), moving (``next``/``previous``/``go_to``) and deciding. The desktop
app only binds keys to these; the logic is tested without Qt.

A decision is split in three steps so a GUI can keep the database off its GUI thread:
``prepare(label)`` (GUI thread: what is being decided, with the score shown) → ``write(pending)``
(any thread, e.g. the DB writer: durable ``Store.record_decision``) → ``apply(decision)`` (GUI thread:
update the worklist and advance to the next image still to review in the order shown, wrapping to
the top). Every decision carries the reading mode (``reading_mode``: ``aided``, or ``blinded`` when
the model is hidden) and the milliseconds since its image became the current one. Undo:
``write_undo()`` → ``apply(undo_decision)``, which moves to the image whose decision was undone;
redo (after undo): ``write_redo()`` → ``apply(redo_decision)``, which moves to the image decided again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from core.order import ReviewOrder, row_key
from core.worklist import Change, WorkItem

if TYPE_CHECKING:  # pragma: no cover
    from core.store import Decision, Store

TRIAGE_ACTIONS = ("fracture", "no_fracture", "doubt", "undo", "redo", "next", "previous")
DECISION_ACTIONS = ("fracture", "no_fracture", "doubt")


@dataclass(frozen=True)
class PendingDecision:
    """What ``write`` will record: taken from the row on screen when the key was pressed."""

    image_id: str
    reviewer: str
    label: str
    model_version: Optional[str]
    probability: Optional[float]
    note: Optional[str] = None
    reading_mode: Optional[str] = None  # 'aided' | 'blinded'
    shown_ms: Optional[int] = None  # from the image becoming current to the key press


class Triage:
    """Triage state for one reviewer: the current row (``current``, -1 when the order is empty)."""

    def __init__(self, store: "Store", order: ReviewOrder, reviewer: str) -> None:
        self.store = store
        self.order = order
        self.worklist = order.worklist
        self.reviewer = reviewer
        self.reading_mode = order.worklist.reading.mode  # 'blinded' when the model is hidden (core.reading)
        self.current = -1
        self._current_key: Optional[str] = None
        self._shown_at = time.monotonic()
        self._unsubscribe = order.subscribe(self._on_change)
        self._settle()

    def close(self) -> None:
        self._unsubscribe()

    # ------------------------------------------------------------------ position
    @property
    def current_item(self) -> Optional[WorkItem]:
        return self.order[self.current] if 0 <= self.current < len(self.order) else None

    @property
    def current_key(self) -> Optional[str]:
        return self._current_key

    def go_to(self, row: Optional[int]) -> Optional[int]:
        n = len(self.order)
        if n == 0 or row is None:
            self.current = -1 if n == 0 else self.current
        else:
            self.current = min(max(row, 0), n - 1)
        item = self.current_item
        key = row_key(item) if item is not None else None
        if key != self._current_key:
            self._shown_at = time.monotonic()  # a new image on screen: its time to decision starts
        self._current_key = key
        return self.current if self.current >= 0 else None

    def go_to_key(self, key: Optional[str]) -> Optional[int]:
        """Move to a row by its key (a mouse pick); stays put when it is not shown."""
        row = self.order.row_of(key)
        return self.go_to(row) if row is not None else (self.current if self.current >= 0 else None)

    def go_to_top(self) -> Optional[int]:
        """The first row still to review (else the first row)."""
        return self.go_to(self.order.next_to_review(0) or 0)

    def _settle(self) -> None:
        """After a reset: stay on the same image if it is still shown, else clamp."""
        n = len(self.order)
        if n == 0:
            self.current, self._current_key = -1, None
            return
        row = self.order.row_of(self._current_key)
        if row is None:
            row = self.current if self.current >= 0 else (self.order.next_to_review(0) or 0)
        self.go_to(row)

    def _on_change(self, change: Change) -> None:
        count = change.last - change.first + 1
        if change.kind == "reset":
            self._settle()
            return
        if self.current < 0:
            if len(self.order):
                self.go_to(0)
            return
        if change.kind == "inserted" and change.first <= self.current:
            self.current += count
        elif change.kind == "removed":
            if change.last < self.current:
                self.current -= count
            elif change.first <= self.current:  # the current row left the view: the row after it takes its place
                self.current = change.first
        self.go_to(self.current)

    def next(self) -> Optional[int]:
        return self.go_to(self.order.next(self.current))

    def previous(self) -> Optional[int]:
        return self.go_to(self.order.previous(self.current))

    # ------------------------------------------------------------------ decisions
    def prepare(self, label: str, note: Optional[str] = None) -> Optional[PendingDecision]:
        item = self.current_item
        if item is None or item.error is not None or not item.image_id:
            return None
        shown_ms = int((time.monotonic() - self._shown_at) * 1000)
        return PendingDecision(item.image_id, self.reviewer, label, item.model_version, item.probability, note,
                               self.reading_mode, shown_ms)

    def write(self, pending: PendingDecision) -> "Decision":
        """The durable part (safe on a worker thread)."""
        return self.store.record_decision(
            pending.image_id,
            pending.reviewer,
            pending.label,
            note=pending.note,
            model_version=pending.model_version,
            probability=pending.probability,
            reading_mode=pending.reading_mode,
            shown_ms=pending.shown_ms,
        )

    def write_undo(self) -> Optional["Decision"]:
        """The durable part of undo (safe on a worker thread)."""
        return self.store.undo_last(self.reviewer)

    def write_redo(self) -> Optional["Decision"]:
        """The durable part of redo: the reviewer's latest undo decided again (safe on a worker thread)."""
        return self.store.redo_last(self.reviewer)

    def apply(self, decision: Optional["Decision"]) -> Optional[int]:
        """Show a written decision; after a decision on the current image, advance to the next image
        still to review (in the order shown, wrapping to the top); after an undo or a redo, go to its
        image (the reviewer sees what was changed)."""
        if decision is None:
            return self.current if self.current >= 0 else None
        if decision.is_undo or decision.is_redo:
            self.worklist.apply_decision(decision)
            row = self.order.row_of(decision.image_id)
            return self.go_to(row) if row is not None else (self.current if self.current >= 0 else None)
        if self._current_key != decision.image_id:
            self.worklist.apply_decision(decision)
            return self.current if self.current >= 0 else None
        # where to go is decided in the order as the reviewer saw it when deciding
        nxt = self.order.next_to_review(self.current + 1, skip=decision.image_id)
        target = row_key(self.order[nxt]) if nxt is not None else None
        pos = self.current
        self.worklist.apply_decision(decision)
        if target is None:  # nothing left to review: stay where the decision was made
            row = self.order.row_of(decision.image_id)
            return self.go_to(row if row is not None else pos)
        return self.go_to(self.order.row_of(target))
