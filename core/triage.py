"""Keyboard triage as named actions over a ``Worklist`` and a ``Store`` (the desktop app only binds keys
to these names; the logic is tested without Qt).

Actions (``ACTIONS``, each ``f(triage)``): fracture, no_fracture, doubt, undo, next, previous.

A decision is split in three steps so a GUI can keep the database off its GUI thread:
``prepare(label)`` (GUI thread: what is being decided, with the score shown) → ``write(pending)``
(any thread, e.g. the DB writer: durable ``Store.record_decision``) → ``apply(decision)`` (GUI thread:
update the worklist and advance to the next image still to review in the current order).
``decide(label)`` runs the three in a row. Every decision carries the reading mode (``reading_mode``:
``aided``, or ``blinded`` when the model is hidden) and the milliseconds since its image became the
current one. Undo: ``write_undo()`` → ``apply(undo_decision)``, which moves
to the image whose decision was undone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from core.worklist import Change, Worklist, WorkItem

if TYPE_CHECKING:  # pragma: no cover
    from core.store import Decision, Store


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
    """Triage state for one reviewer: the current row (``current``, -1 when the list is empty)."""

    def __init__(self, store: "Store", worklist: Worklist, reviewer: str) -> None:
        self.store = store
        self.worklist = worklist
        self.reviewer = reviewer
        self.reading_mode = "aided"  # 'blinded' when the model is hidden from the reader
        self.current = -1
        self._current_key: Optional[str] = None
        self._shown_at = time.monotonic()
        self._unsubscribe = worklist.subscribe(self._on_change)
        self._settle()

    def close(self) -> None:
        self._unsubscribe()

    # ------------------------------------------------------------------ position
    @property
    def current_item(self) -> Optional[WorkItem]:
        return self.worklist[self.current] if 0 <= self.current < len(self.worklist) else None

    def go_to(self, index: Optional[int]) -> Optional[int]:
        n = len(self.worklist)
        if n == 0 or index is None:
            self.current = -1 if n == 0 else self.current
        else:
            self.current = min(max(index, 0), n - 1)
        item = self.current_item
        key = self._key(item)
        if key != self._current_key:
            self._shown_at = time.monotonic()  # a new image on screen: its time to decision starts
        self._current_key = key
        return self.current if self.current >= 0 else None

    @staticmethod
    def _key(item: Optional[WorkItem]) -> Optional[str]:
        if item is None:
            return None
        return item.image_id if item.error is None and item.image_id else str(item.path)

    def _settle(self) -> None:
        """After a reset: stay on the same image if it is still shown, else clamp."""
        n = len(self.worklist)
        if n == 0:
            self.current, self._current_key = -1, None
            return
        idx = self.worklist.index_of(self._current_key) if self._current_key else None
        if idx is None:
            idx = self.current if self.current >= 0 else (self.worklist.next_to_review(0) or 0)
        self.go_to(idx)

    def _on_change(self, change: Change) -> None:
        count = change.last - change.first + 1
        if change.kind == "reset":
            self._settle()
            return
        if self.current < 0:
            if len(self.worklist):
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
                return
        self.go_to(self.current)

    def next(self) -> Optional[int]:
        return self.go_to(self.worklist.next(self.current))

    def previous(self) -> Optional[int]:
        return self.go_to(self.worklist.previous(self.current))

    def next_to_review(self) -> Optional[int]:
        nxt = self.worklist.next_to_review(self.current)
        return self.go_to(nxt) if nxt is not None else None

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

    def apply(self, decision: Optional["Decision"]) -> Optional[int]:
        """Show a written decision; after a decision on the current image, advance to the next image
        still to review (in the current order, wrapping to the top); after an undo, go to its image."""
        if decision is None:
            return self.current if self.current >= 0 else None
        was_current = self._current_key == decision.image_id
        pos = self.current
        self.worklist.apply_decision(decision)
        if decision.is_undo:
            idx = self.worklist.index_of(decision.image_id)
            return self.go_to(idx) if idx is not None else (self.current if self.current >= 0 else None)
        if not was_current:
            return self.current if self.current >= 0 else None
        idx = self.worklist.index_of(decision.image_id)
        start = pos if idx is None else idx + 1
        nxt = self.worklist.next_to_review(start)
        if nxt is None:  # nothing left to review: stay where the decision was made
            return self.go_to(idx if idx is not None else pos)
        return self.go_to(nxt)

    def decide(self, label: str, note: Optional[str] = None) -> Optional["Decision"]:
        pending = self.prepare(label, note)
        if pending is None:
            return None
        decision = self.write(pending)
        self.apply(decision)
        return decision

    def undo(self) -> Optional["Decision"]:
        decision = self.write_undo()
        self.apply(decision)
        return decision

    def run(self, action: str):  # noqa: ANN201
        try:
            fn = ACTIONS[action]
        except KeyError:
            raise ValueError(f"unknown triage action {action!r}; one of {', '.join(ACTIONS)}") from None
        return fn(self)


ACTIONS: dict[str, Callable[[Triage], object]] = {
    "fracture": lambda t: t.decide("fracture"),
    "no_fracture": lambda t: t.decide("no_fracture"),
    "doubt": lambda t: t.decide("doubt"),
    "undo": lambda t: t.undo(),
    "next": lambda t: t.next(),
    "previous": lambda t: t.previous(),
}
ACTION_TITLES = {
    "fracture": "Fracture (confirm)",
    "no_fracture": "No fracture (reject)",
    "doubt": "Doubt / needs a second look",
    "undo": "Undo the last decision",
    "next": "Next image",
    "previous": "Previous image",
}
