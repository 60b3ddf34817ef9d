"""Keyboard triage for one reviewer over a ``ReviewOrder`` and a ``Store``: where the reviewer is
(``current``, a row of the order), moving (``next``/``previous``/``go_to``) and deciding. The desktop
app only binds keys to these; the logic is tested without Qt.

A decision is split in three steps so a GUI can keep the database off its GUI thread:
``prepare(label)`` (GUI thread: what is being decided, with the score shown) → ``write(pending)``
(any thread, e.g. the DB writer: durable ``Store.record_decision``) → ``apply(decision)`` (GUI thread:
update the worklist and advance to the next image still to review in the order shown, wrapping to
the top). Every decision carries the reading mode (``reading_mode``: ``aided``, or ``blinded`` when
the model is hidden) and its time to decide: the milliseconds from its image being shown to the key —
shown meaning the row becoming current, or, when the triage is ``timed_from_display`` (the desktop),
the viewer reporting the decoded image actually on screen (``displayed``), so decoding is not counted
(a key pressed before that records no time). Undo:
``write_undo()`` → ``apply(undo_decision)``, which moves to the image whose decision was undone;
redo (after undo): ``write_redo()`` → ``apply(redo_decision)``, which moves to the image decided again.

Studies (the order is a ``core.study_order.StudyOrder``): on a study row a decision key prepares a
``PendingStudyDecision`` — one decision for every readable view, written in one transaction
(``Store.record_study_decision``, unit 'study') — and the triage then goes to the next study to review;
``step_in`` opens the study and moves to its first view still to review, where a decision key decides
that view only (unit 'view'); ``step_out`` goes back to the study row and closes it. Undoing a study
decision undoes all its views at once, and redoing that undo decides them all again (one step each).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from core.order import ReviewOrder, row_key
from core.store.models import UNIT_VIEW
from core.studies import STUDY_PREFIX, StudyItem
from core.worklist import Change, WorkItem

if TYPE_CHECKING:  # pragma: no cover
    from core.store import Decision, Store

TRIAGE_ACTIONS = ("fracture", "no_fracture", "doubt", "undo", "redo", "next", "previous")
STUDY_ACTIONS = ("step_in", "step_out")  # the study mode: into a study's views, back to the study row
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
    shown_ms: Optional[int] = None  # from the image being shown to the key press (None: not displayed yet)
    study: Optional[str] = None  # the image's study key (core.studies)
    unit: Optional[str] = None  # 'view': one view of a study, decided in the study mode
    study_score: Optional[float] = None  # the study score shown (study mode)


@dataclass(frozen=True)
class PendingStudyDecision:
    """A decision on a study row: the same label for each view ``(image id, model version, score)``."""

    study: str
    reviewer: str
    label: str
    views: tuple
    study_score: Optional[float]
    note: Optional[str] = None
    reading_mode: Optional[str] = None
    shown_ms: Optional[int] = None


@dataclass(frozen=True)
class StudyDecision:
    """What writing a ``PendingStudyDecision`` returns: the study and the views' decision events."""

    study: str
    label: str
    decisions: tuple  # core.store.Decision, one per view

    is_undo = False
    is_redo = False

    @property
    def image_id(self) -> Optional[str]:
        return None


class Triage:
    """Triage state for one reviewer: the current row (``current``, -1 when the order is empty)."""

    def __init__(self, store: "Store", order: ReviewOrder, reviewer: str, *, timed_from_display: bool = False) -> None:
        self.store = store
        self.order = order
        self.worklist = order.worklist
        self.reviewer = reviewer
        self.reading_mode = order.worklist.reading.mode  # 'blinded' when the model is hidden (core.reading)
        self.current = -1
        self._current_key: Optional[str] = None
        # time to decide: from the row becoming current, or — with a viewer that says so (``displayed``)
        # — from the image actually being on screen (decoding not counted); None until then
        self.timed_from_display = timed_from_display
        self._shown_at: Optional[float] = None if timed_from_display else time.monotonic()
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
        if key != self._current_key:  # a new row: its time to decide starts now, or once it is displayed
            self._shown_at = None if self.timed_from_display else time.monotonic()
        self._current_key = key
        return self.current if self.current >= 0 else None

    @property
    def timing(self) -> bool:
        """The current row's time to decide has started (it is on screen)."""
        return self._shown_at is not None

    def displayed(self, key: Optional[str]) -> None:
        """The viewer has put row ``key`` (``core.order.row_key``: an image, or a study's views) on
        screen: its time to decide starts here, once per row (a repaint does not restart it)."""
        if self.timed_from_display and key is not None and key == self._current_key and self._shown_at is None:
            self._shown_at = time.monotonic()

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
    def prepare(self, label: str, note: Optional[str] = None):  # -> PendingDecision | PendingStudyDecision | None
        item = self.current_item
        if item is None or item.error is not None:
            return None
        shown_ms = None if self._shown_at is None else int((time.monotonic() - self._shown_at) * 1000)
        if isinstance(item, StudyItem):
            views = tuple((v.image_id, v.model_version, v.probability) for v in item.decidable)
            if not views:
                return None
            return PendingStudyDecision(item.key, self.reviewer, label, views, item.probability, note,
                                        self.reading_mode, shown_ms)
        if not item.image_id:
            return None
        study = getattr(self.order, "open_study", None)  # a view, in the study mode
        return PendingDecision(item.image_id, self.reviewer, label, item.model_version, item.probability, note,
                               self.reading_mode, shown_ms, study=item.study,
                               unit=UNIT_VIEW if study is not None else None,
                               study_score=study.probability if study is not None else None)

    def write(self, pending):  # -> Decision | StudyDecision
        """The durable part (safe on a worker thread)."""
        if isinstance(pending, PendingStudyDecision):
            done = self.store.record_study_decision(
                list(pending.views), pending.reviewer, pending.label, study=pending.study,
                study_score=pending.study_score, reading_mode=pending.reading_mode, shown_ms=pending.shown_ms,
                note=pending.note)
            return StudyDecision(pending.study, pending.label, tuple(done))
        return self.store.record_decision(
            pending.image_id,
            pending.reviewer,
            pending.label,
            note=pending.note,
            model_version=pending.model_version,
            probability=pending.probability,
            reading_mode=pending.reading_mode,
            shown_ms=pending.shown_ms,
            study=pending.study,
            unit=pending.unit,
            study_score=pending.study_score,
        )

    def write_undo(self) -> Optional["Decision"]:
        """The durable part of undo (safe on a worker thread)."""
        return self.store.undo_last(self.reviewer)

    def write_redo(self) -> Optional["Decision"]:
        """The durable part of redo: the reviewer's latest undo decided again (safe on a worker thread)."""
        return self.store.redo_last(self.reviewer)

    def apply(self, decision) -> Optional[int]:
        """Show a written decision; after a decision on the current row, advance to the next row still
        to review (in the order shown, wrapping to the top); after an undo or a redo, go to its image
        (or its study's row: the reviewer sees what was changed). An undo or redo of a study decision
        carries its other views' events in ``group``."""
        if decision is None:
            return self._here()
        if isinstance(decision, StudyDecision):
            return self._apply_study(decision)
        if decision.is_undo or decision.is_redo:
            for d in (decision, *decision.group):
                self.worklist.apply_decision(d)
            row = self.order.row_for_image(decision.image_id)
            return self.go_to(row) if row is not None else self._here()
        if self._current_key != decision.image_id:
            self.worklist.apply_decision(decision)
            return self._here()
        # where to go is decided in the order as the reviewer saw it when deciding
        nxt = self.order.next_to_review(self.current + 1, skip=decision.image_id)
        target = row_key(self.order[nxt]) if nxt is not None else None
        pos = self.current
        self.worklist.apply_decision(decision)
        if target is None:  # nothing left to review: stay where the decision was made
            row = self.order.row_for_image(decision.image_id)
            return self.go_to(row if row is not None else pos)
        return self.go_to(self.order.row_of(target))

    def _here(self) -> Optional[int]:
        return self.current if self.current >= 0 else None

    def _apply_study(self, decision: StudyDecision) -> Optional[int]:
        key = STUDY_PREFIX + decision.study
        if self._current_key != key:
            for d in decision.decisions:
                self.worklist.apply_decision(d)
            return self._here()
        skip = {key, *(d.image_id for d in decision.decisions)}
        nxt = self.order.next_to_review(self.current + 1, skip=skip)
        target = row_key(self.order[nxt]) if nxt is not None else None
        study = getattr(self.order, "open_study", None)
        if study is not None and study.row_key == key:  # decided as a whole: its views close
            self.order.collapse()
        for d in decision.decisions:
            self.worklist.apply_decision(d)
        row = self.order.row_of(target) if target is not None else self.order.row_of(key)
        return self.go_to(row if row is not None else self.current)

    # ------------------------------------------------------------------ studies
    def step_in(self) -> Optional[int]:
        """On a study row: open it and go to its first view still to review (else its first view)."""
        item, expand = self.current_item, getattr(self.order, "expand", None)
        if expand is None or item is None or not isinstance(item, StudyItem) or not item.views:
            return self._here()
        expand(item.key)
        row = self.order.row_of(item.row_key)
        if row is None:
            return self._here()
        first = next((i for i, v in enumerate(item.views) if v.to_review), 0)
        return self.go_to(row + 1 + first)

    def step_out(self) -> Optional[int]:
        """On a view of the open study (or its row): back to the study row, closed."""
        study = getattr(self.order, "open_study", None)
        if study is None:
            return self._here()
        self.go_to(self.order.row_of(study.row_key))
        self.order.collapse()
        return self.go_to(self.order.row_of(study.row_key))
