"""Writing decision events inside the caller's transaction: a 'decide' event (``decide``; the image
row locked, the caller's uid making a retried write idempotent), the reviewer's undo step and redo step
(a study decision's views undone and redone together, by their shared batch). ``Store.record_decision``,
``record_study_decision``, ``undo_last`` and ``redo_last`` run these in one ``run_write`` transaction each;
``core.store.decisions`` reads the events back."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from core.store import decisions as dec
from core.store import readers as rd
from core.store.decisions import Decision
from core.store.errors import StoreError
from core.store.models import KIND_DECIDE, KIND_UNDO, LABELS, MODES, UNITS, DecisionEvent, Image, Reviewer
from core.store.sqlbits import insert_ignore

_I, _R, _D = Image.__table__, Reviewer.__table__, DecisionEvent.__table__


def _db_user(conn: Connection) -> Optional[str]:
    """The database user recorded with every event on PostgreSQL (None on SQLite)."""
    return conn.exec_driver_sql("SELECT current_user").scalar() if conn.dialect.name == "postgresql" else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_args(reviewer: str, label: str, reading_mode: Optional[str], shown_ms: Optional[int],
               unit: Optional[str]) -> dict:
    """The checked common part of a decision (reviewer, label, mode, time, unit, when)."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
    if reading_mode is not None and reading_mode not in MODES:
        raise ValueError(f"reading mode must be one of {', '.join(MODES)}, not {reading_mode!r}")
    if shown_ms is not None and shown_ms < 0:
        raise ValueError("the time to a decision cannot be negative")
    if unit is not None and unit not in UNITS:
        raise ValueError(f"a decision's unit is one of {', '.join(UNITS)}, not {unit!r}")
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ValueError("a reviewer name is required for every decision")
    return dict(reviewer=reviewer, label=label, reading_mode=reading_mode, shown_ms=shown_ms, unit=unit, now=_now())


def decide(conn: Connection, view: dict, *, uid: str, reviewer: str, label: str, note: Optional[str],
           reading_mode: Optional[str], shown_ms: Optional[int], unit: Optional[str], study: Optional[str],
           study_score: Optional[float], batch: Optional[str], now: datetime) -> Decision:
    """Insert one 'decide' event inside the caller's transaction (see ``Store.record_decision``);
    ``view``: the image id, and the model version and probability the reader saw."""
    image_id = view["image_id"]
    # lock the image row: decisions on one image are serialised (FOR UPDATE; no-op on SQLite)
    if conn.execute(select(_I.c.id).where(_I.c.id == image_id).with_for_update()).first() is None:
        raise StoreError(f"image {image_id[:12]}… is not in the database (scan its folder first)", "unknown_image")
    done = dec.by_uid(conn, uid)
    if done is not None:
        return done
    rid = reviewer_id(conn, reviewer, now)
    role = conn.execute(select(_R.c.role).where(_R.c.id == rid)).scalar_one()
    current = dec.current_for(conn, image_id, reviewer)
    probability = view["probability"]
    new_id = conn.execute(
        insert(_D).values(
            uid=uid,
            role=role,
            reading_mode=reading_mode,
            shown_ms=None if shown_ms is None else int(shown_ms),
            db_user=_db_user(conn),
            image_id=image_id,
            reviewer_id=rid,
            kind=KIND_DECIDE,
            label=label,
            note=note,
            created_at=now,
            model_version=view["model_version"],
            probability=None if probability is None else float(probability),
            replaces_id=current.id if current else None,
            study=study,
            unit=unit,
            study_score=None if study_score is None else float(study_score),
            batch=batch,
        )
    ).inserted_primary_key[0]
    rd.hold_decided(conn, image_id, rid, now)
    return replace(dec.get(conn, new_id), reading=reading_of(conn, image_id))


def undo_step(conn: Connection, reviewer: str, uid: str, now: datetime) -> Optional[Decision]:
    """The reviewer's undo (see ``Store.undo_last``), with ``uid`` for its first event."""
    # lock the reviewer row: two undos by one reviewer at once undo two decisions, not one twice
    rid = conn.execute(select(_R.c.id).where(_R.c.name == reviewer).with_for_update()).scalar()
    if rid is None:
        return None
    done = dec.by_uid(conn, uid)
    if done is not None:  # a retried attempt whose first try committed: what it did
        group = tuple(replace(e, restored=dec.current_for(conn, e.image_id, reviewer))
                      for e in dec.batch_undos(conn, done) if e.id != done.id)
        return replace(done, restored=dec.current_for(conn, done.image_id, reviewer), group=group)
    target_id = dec.last_undoable_id(conn, rid)
    if target_id is None:
        return None
    target = dec.get(conn, target_id)
    # a study decision is undone as a whole: every view of its batch not undone yet
    others = [i for i in dec.undoable_in_batch(conn, rid, target.batch) if i != target_id] if target.batch else []
    first = _undo_one(conn, target, rid, uid, now)
    group = tuple(_undo_one(conn, dec.get(conn, i), rid, uuid.uuid4().hex, now) for i in others)
    return replace(first, group=group)


def redo_step(conn: Connection, reviewer: str, uid: str, now: datetime) -> Optional[Decision]:
    """The reviewer's redo (see ``Store.redo_last``), with ``uid`` for its first event."""
    # lock the reviewer row: two redos by one reviewer at once redo two undos, not one twice
    rid = conn.execute(select(_R.c.id).where(_R.c.name == reviewer).with_for_update()).scalar()
    if rid is None:
        return None
    done = dec.by_uid(conn, uid)
    if done is not None:  # a retried attempt whose first try committed: what it did
        group = tuple(e for e in dec.batch_mates(conn, done) if e.id != done.id)
        return replace(done, reading=reading_of(conn, done.image_id), group=group)
    undo_id = dec.last_redoable_id(conn, rid)
    if undo_id is None:
        return None
    undo = dec.get(conn, undo_id)
    others = [e for e in dec.batch_mates(conn, undo) if e.id != undo.id and not dec.is_redone(conn, e.id)]
    first = _redo_one(conn, undo, rid, uid, now)
    group = tuple(_redo_one(conn, e, rid, uuid.uuid4().hex, now) for e in others)
    return replace(first, group=group)


def _carried(conn: Connection, target: Decision, rid: int, now: datetime) -> dict:
    """What an undo or redo event keeps of the decision it acts on (the image, the score the reader saw,
    the reading mode, the study), with who and when."""
    return dict(image_id=target.image_id, reviewer_id=rid, created_at=now, model_version=target.model_version,
                probability=target.probability, reading_mode=target.reading_mode, db_user=_db_user(conn),
                study=target.study, unit=target.unit, study_score=target.study_score, batch=target.batch)


def _redo_one(conn: Connection, undo: Decision, rid: int, uid: str, now: datetime) -> Decision:
    """Insert the 'decide' event that redoes ``undo`` (inside the caller's transaction)."""
    target = dec.get(conn, undo.undoes)
    conn.execute(select(_I.c.id).where(_I.c.id == target.image_id).with_for_update()).first()
    role = conn.execute(select(_R.c.role).where(_R.c.id == rid)).scalar_one()
    current = dec.current_for(conn, target.image_id, target.reviewer)
    rd.release_claim(conn, target.image_id, rid)
    new_id = conn.execute(insert(_D).values(
        uid=uid, kind=KIND_DECIDE, label=target.label, note=target.note, role=role, undoes_id=undo.id,
        replaces_id=current.id if current else None, **_carried(conn, target, rid, now),
    )).inserted_primary_key[0]
    return replace(dec.get(conn, new_id), reading=reading_of(conn, target.image_id))


def _undo_one(conn: Connection, target: Decision, rid: int, uid: str, now: datetime) -> Decision:
    """Insert the 'undo' event of ``target`` (inside the caller's transaction), with what it restores."""
    new_id = conn.execute(insert(_D).values(
        uid=uid, kind=KIND_UNDO, undoes_id=target.id, role=target.role, **_carried(conn, target, rid, now),
    )).inserted_primary_key[0]
    undo = dec.get(conn, new_id)
    restored = dec.current_for(conn, target.image_id, target.reviewer)
    return replace(undo, restored=restored, reading=reading_of(conn, target.image_id))


def reading_of(conn: Connection, image_id: str) -> str:
    """Where the image's reference label stands now (``readers.reference_of``'s source)."""
    return rd.reference_of(dec.labels_by_reader(conn, [image_id]).get(image_id, {})).source


def reviewer_id(conn: Connection, name: str, now: datetime) -> int:
    """The reviewer's row id (the row made on first use)."""
    insert_ignore(conn, _R, dict(name=name, created_at=now), ["name"])
    return int(conn.execute(select(_R.c.id).where(_R.c.name == name)).scalar_one())
