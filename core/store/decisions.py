"""Decision events: the ``Decision`` record handed to callers, and how the current label of an image
is derived from its append-only events.

Rules: a 'decide' event sets a label and ``replaces`` the decision that was current for the image; an
'undo' event ``undoes`` one earlier 'decide' event (nothing is ever deleted or updated). The current
label of an image is its latest 'decide' event that no 'undo' event points at — so undoing the latest
decision brings back the one before it, and undoing the only one leaves the image undecided.

Redo: a 'decide' event whose ``undoes`` points at an 'undo' event is a *redo* — it decides the undone
label again (same label, note, model version and score as the undone decision) and reverses that
undo. Being a 'decide' event, every label computation (here, exports, older app versions) counts it
without knowing about redo, and it can itself be undone. What can be redone is read from the log
(``last_redoable_id``), so it survives a restart exactly as undo does: the reviewer's latest undo
that is not redone yet, as long as the reviewer has made no fresh decision since (a fresh decision
ends the redo chain, as in any editor).

Several readers (revision 0004): each reader has their own current label per image — a reader's
decision ``replaces`` that reader's own earlier one, and undo brings back that reader's previous
label, never another reader's (blinding). ``current_labels(reader=None)`` gives the latest current
decision of anyone (the single-reader view); ``labels_by_reader`` every reader's.

Current labels are computed in SQL (``ROW_NUMBER() OVER (PARTITION BY image_id[, reviewer_id] ORDER
BY id DESC)`` over the events not undone), so neither engine ships the whole history to Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional

from sqlalchemy import String, func, select, update
from sqlalchemy.engine import Connection

from core.store.models import KIND_DECIDE, KIND_UNDO, DecisionEvent, Reviewer
from core.store.sqlbits import chunks

_D = DecisionEvent.__table__
_R = Reviewer.__table__
_CHUNK = 500  # SQLite's bound-parameter limit is generous, but stay far below it


def utc(dt: datetime) -> datetime:
    """A naive-UTC database time as an aware UTC datetime."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


@dataclass(frozen=True)
class Decision:
    """One event of the audit trail (kind 'decide' or 'undo').

    For an 'undo' event ``label`` is None, ``undoes`` is the id of the undone decision and ``restored``
    is the decision that is current for the image after the undo (None: the image is undecided again).
    """

    id: int
    image_id: str
    reviewer: str
    kind: str
    label: Optional[str]
    decided_at: datetime  # aware, UTC
    note: Optional[str] = None
    model_version: Optional[str] = None
    probability: Optional[float] = None
    replaces: Optional[int] = None
    undoes: Optional[int] = None
    restored: Optional["Decision"] = None
    uid: Optional[str] = None
    role: Optional[str] = None  # 'reader' | 'adjudicator' (None: before revision 0004, a reader)
    reading_mode: Optional[str] = None  # 'aided' | 'blinded' (None: before revision 0004, aided)
    shown_ms: Optional[int] = None  # from showing the image to this decision
    db_user: Optional[str] = None  # PostgreSQL current_user
    reading: Optional[str] = None  # set on what record_decision/undo_last return: the image's reference
    # source after this event (single / agreed / disputed / adjudicated / unread), see core.store.readers
    study: Optional[str] = None  # the image's pseudonymous study key when decided (revision 0007)
    unit: Optional[str] = None  # 'study' | 'view' | None (the image list)
    study_score: Optional[float] = None  # the study score shown
    batch: Optional[str] = None  # the uid shared by the events of one study decision
    group: tuple = ()  # on what undo_last returns: the undo events of the batch's other views

    @property
    def is_undo(self) -> bool:
        return self.kind == KIND_UNDO

    @property
    def is_redo(self) -> bool:
        """A 'decide' event that reverses the undo event ``undoes`` (see the module docstring)."""
        return self.kind == KIND_DECIDE and self.undoes is not None


def _decision(row) -> Decision:  # noqa: ANN001
    return Decision(
        id=row.id,
        image_id=row.image_id,
        reviewer=row.reviewer,
        kind=row.kind,
        label=row.label,
        decided_at=utc(row.created_at),
        note=row.note,
        model_version=row.model_version,
        probability=row.probability,
        replaces=row.replaces_id,
        undoes=row.undoes_id,
        uid=row.uid,
        role=row.role,
        reading_mode=row.reading_mode,
        shown_ms=row.shown_ms,
        db_user=row.db_user,
        study=row.study,
        unit=row.unit,
        study_score=row.study_score,
        batch=row.batch,
    )


def _events_query():
    return select(
        _D.c.id,
        _D.c.image_id,
        _R.c.name.label("reviewer"),
        _D.c.kind,
        _D.c.label,
        _D.c.note,
        _D.c.created_at,
        _D.c.model_version,
        _D.c.probability,
        _D.c.replaces_id,
        _D.c.undoes_id,
        _D.c.uid,
        _D.c.role,
        _D.c.reading_mode,
        _D.c.shown_ms,
        _D.c.db_user,
        _D.c.study,
        _D.c.unit,
        _D.c.study_score,
        _D.c.batch,
    ).join(_R, _R.c.id == _D.c.reviewer_id)


def events(conn: Connection, image_ids: Optional[Iterable[str]] = None) -> list[Decision]:
    """All events (of these images, or of all), oldest first."""
    q = _events_query().order_by(_D.c.id)
    if image_ids is None:
        return [_decision(r) for r in conn.execute(q)]
    out: list[Decision] = []
    for group in chunks(list(dict.fromkeys(image_ids)), _CHUNK):
        out.extend(_decision(r) for r in conn.execute(q.where(_D.c.image_id.in_(list(group)))))
    out.sort(key=lambda d: d.id)
    return out


def _not_undone():
    undo = _D.alias("u")
    return ~select(undo.c.id).where(undo.c.undoes_id == _D.c.id).exists()


def _current_ids(image_ids: Optional[list[str]], *, per_reader: bool = False, reader: Optional[str] = None):
    """Subquery: the id of each image's current 'decide' event (per reader with ``per_reader``; only
    this ``reader``'s with ``reader``)."""
    partition = (_D.c.image_id, _D.c.reviewer_id) if per_reader or reader else (_D.c.image_id,)
    ranked = select(
        _D.c.id, func.row_number().over(partition_by=partition, order_by=_D.c.id.desc()).label("rn")
    ).where(_D.c.kind == KIND_DECIDE, _not_undone())
    if image_ids is not None:
        ranked = ranked.where(_D.c.image_id.in_(image_ids))
    if reader is not None:
        ranked = ranked.where(_D.c.reviewer_id.in_(select(_R.c.id).where(_R.c.name == reader)))
    ranked = ranked.subquery("ranked")
    return select(ranked.c.id).where(ranked.c.rn == 1)


def _current(conn: Connection, image_ids: Optional[Iterable[str]], **kw) -> list[Decision]:  # noqa: ANN003
    groups: list = [None]
    if image_ids is not None:
        ids = list(dict.fromkeys(image_ids))
        if len(ids) > _CHUNK:  # a folder's worth (mostly undecided): ask only about images with any event
            decided = _decided_ids(conn)
            ids = [i for i in ids if i in decided]
        groups = list(chunks(ids))
    out: list[Decision] = []
    for group in groups:
        q = _events_query().where(_D.c.id.in_(_current_ids(None if group is None else list(group), **kw)))
        out.extend(_decision(r) for r in conn.execute(q.order_by(_D.c.id)))
    return out


def _decided_ids(conn: Connection) -> set[str]:
    """Every image id with at least one event (the index on image id alone is read)."""
    return {i for (i,) in conn.execute(select(_D.c.image_id).distinct())}


def current_labels(
    conn: Connection, image_ids: Optional[Iterable[str]] = None, reader: Optional[str] = None
) -> dict[str, Decision]:
    """image id → its current decision: the latest of anyone, or ``reader``'s own (one query per
    500 ids; all images when ``image_ids`` is None)."""
    return {d.image_id: d for d in _current(conn, image_ids, reader=reader)}


def labels_by_reader(conn: Connection, image_ids: Optional[Iterable[str]] = None) -> dict[str, dict[str, Decision]]:
    """image id → reader name → that reader's current decision."""
    out: dict[str, dict[str, Decision]] = {}
    for d in _current(conn, image_ids, per_reader=True):
        out.setdefault(d.image_id, {})[d.reviewer] = d
    return out


def current_for(conn: Connection, image_id: str, reader: Optional[str] = None) -> Optional[Decision]:
    return current_labels(conn, [image_id], reader).get(image_id)


def last_undoable_id(conn: Connection, reviewer_id: int) -> Optional[int]:
    """The reviewer's latest 'decide' event that has not been undone."""
    q = (
        select(_D.c.id)
        .where(_D.c.reviewer_id == reviewer_id, _D.c.kind == KIND_DECIDE)
        .where(_not_undone())
        .order_by(_D.c.id.desc())
        .limit(1)
    )
    return conn.execute(q).scalar()


def last_redoable_id(conn: Connection, reviewer_id: int) -> Optional[int]:
    """The reviewer's latest 'undo' event that can be redone: not redone yet, and newer than the
    reviewer's latest fresh decision (a 'decide' event that is not a redo)."""
    fresh = (
        select(func.max(_D.c.id))
        .where(_D.c.reviewer_id == reviewer_id, _D.c.kind == KIND_DECIDE, _D.c.undoes_id.is_(None))
        .scalar_subquery()
    )
    redo = _D.alias("r")
    q = (
        select(_D.c.id)
        .where(_D.c.reviewer_id == reviewer_id, _D.c.kind == KIND_UNDO, _D.c.id > func.coalesce(fresh, 0))
        .where(~select(redo.c.id).where(redo.c.undoes_id == _D.c.id).exists())
        .order_by(_D.c.id.desc())
        .limit(1)
    )
    return conn.execute(q).scalar()
def undoable_in_batch(conn: Connection, reviewer_id: int, batch: str) -> list[int]:
    """The reviewer's 'decide' events of one study decision (``batch``) that are not undone, newest first."""
    q = (
        select(_D.c.id)
        .where(_D.c.reviewer_id == reviewer_id, _D.c.kind == KIND_DECIDE, _D.c.batch == batch)
        .where(_not_undone())
        .order_by(_D.c.id.desc())
    )
    return [i for (i,) in conn.execute(q)]


def batch_undos(conn: Connection, undo: Decision) -> list[Decision]:
    """The 'undo' events written together with ``undo`` (one undo of a study decision)."""
    return batch_mates(conn, undo) if undo.batch else [undo]


def batch_mates(conn: Connection, event: Decision) -> list[Decision]:
    """The events written in the same step as ``event`` (one study decision, its undo or its redo):
    same batch, kind, reviewer and time, and redo or not alike; just ``event`` outside a batch."""
    if not event.batch:
        return [event]
    q = _events_query().where(_D.c.batch == event.batch, _D.c.kind == event.kind).order_by(_D.c.id)
    return [d for d in map(_decision, conn.execute(q))
            if d.decided_at == event.decided_at and d.reviewer == event.reviewer and d.is_redo == event.is_redo]


def is_redone(conn: Connection, undo_id: int) -> bool:
    """Whether a 'decide' event already redoes the undo event ``undo_id``."""
    return conn.execute(select(_D.c.id).where(_D.c.undoes_id == undo_id, _D.c.kind == KIND_DECIDE).limit(1)).first() is not None


def fill_missing_uids(conn: Connection) -> int:
    """Give every event without a uid one (rows written around the app, e.g. by hand); returns how many."""
    if conn.dialect.name == "postgresql":
        new = func.md5(func.random().cast(String) + func.clock_timestamp().cast(String) + _D.c.id.cast(String))
    else:
        new = func.lower(func.hex(func.randomblob(16)))
    return conn.execute(update(_D).where(_D.c.uid.is_(None)).values(uid=new)).rowcount or 0


def get(conn: Connection, decision_id: int) -> Decision:
    row = conn.execute(_events_query().where(_D.c.id == decision_id)).one()
    return _decision(row)


def by_uid(conn: Connection, uid: str) -> Optional[Decision]:
    row = conn.execute(_events_query().where(_D.c.uid == uid)).first()
    return None if row is None else _decision(row)
