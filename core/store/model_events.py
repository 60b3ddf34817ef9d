"""Model events (table ``model_event``): calibrations, reverts to the card's thresholds and model
activations, recorded append-only, and the reads that say which is in force. Rules: for one model
version the latest 'calibrate' or 'revert' event decides its thresholds (none: the card's); the latest
'activate' event names the clinic's active model (none: the shipped one)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from core.store.decisions import utc
from core.store.models import ModelEvent

_X = ModelEvent.__table__
KINDS = ("calibrate", "revert", "activate")


@dataclass(frozen=True)
class ModelEventRow:
    id: int
    kind: str
    model_name: str
    model_version: str
    suspicious: Optional[float]
    definite: Optional[float]
    basis: dict
    actor: str
    created_at: datetime  # aware, UTC


def _row(r) -> ModelEventRow:  # noqa: ANN001
    try:
        basis = json.loads(r.basis) if r.basis else {}
    except ValueError:
        basis = {"unreadable": r.basis}
    return ModelEventRow(r.id, r.kind, r.model_name, r.model_version, r.suspicious, r.definite,
                         basis if isinstance(basis, dict) else {"value": basis}, r.actor, utc(r.created_at))


def insert_event(conn: Connection, *, kind: str, model_name: str, model_version: str, actor: str,
                 created_at: datetime, suspicious: Optional[float] = None, definite: Optional[float] = None,
                 basis: Optional[dict] = None) -> ModelEventRow:
    if kind not in KINDS:
        raise ValueError(f"model event kind must be one of {', '.join(KINDS)}, not {kind!r}")
    actor = (actor or "").strip()
    if not actor:
        raise ValueError("a name is required for every calibration and model switch (who did it)")
    if kind == "calibrate":
        if suspicious is None or definite is None or not 0.0 <= suspicious <= definite <= 1.0:
            raise ValueError("a calibration needs thresholds with 0 <= suspicious <= definite <= 1")
    new_id = conn.execute(insert(_X).values(
        kind=kind, model_name=model_name, model_version=model_version,
        suspicious=None if suspicious is None else float(suspicious),
        definite=None if definite is None else float(definite),
        basis=json.dumps(basis, sort_keys=True) if basis else None, actor=actor, created_at=created_at,
    )).inserted_primary_key[0]
    return _row(conn.execute(select(_X).where(_X.c.id == new_id)).one())


def events(conn: Connection, *, model_version: Optional[str] = None,
           kinds: Optional[Iterable[str]] = None) -> list[ModelEventRow]:
    """Events oldest first, optionally of one model version and/or some kinds."""
    q = select(_X).order_by(_X.c.id)
    if model_version is not None:
        q = q.where(_X.c.model_version == model_version)
    if kinds is not None:
        q = q.where(_X.c.kind.in_(list(kinds)))
    return [_row(r) for r in conn.execute(q)]


def latest(conn: Connection, *, kinds: Iterable[str], model_version: Optional[str] = None) -> Optional[ModelEventRow]:
    q = select(_X).where(_X.c.kind.in_(list(kinds))).order_by(_X.c.id.desc()).limit(1)
    if model_version is not None:
        q = q.where(_X.c.model_version == model_version)
    r = conn.execute(q).first()
    return _row(r) if r is not None else None
