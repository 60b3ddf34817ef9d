"""The "in scope after all" marks: append-only ``scope_override`` events (who, when, for which model
version and verdict), and the mark in force per image (its latest event). Used through ``Store``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from core.store.models import Reviewer, ScopeOverride

_S, _R = ScopeOverride.__table__, Reviewer.__table__


@dataclass(frozen=True)
class ScopeMark:
    id: int
    image_id: str
    reviewer: str
    in_scope: bool  # True: the reader says the image is in scope after all; False: that mark withdrawn
    at: datetime
    model_version: Optional[str]
    scope_reason: Optional[str]


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _mark(r) -> ScopeMark:  # noqa: ANN001
    return ScopeMark(r.id, r.image_id, r.name, bool(r.in_scope), _utc(r.created_at), r.model_version, r.scope_reason)


def _query():
    return select(_S.c.id, _S.c.image_id, _S.c.in_scope, _S.c.created_at, _S.c.model_version, _S.c.scope_reason,
                  _R.c.name).join(_R, _R.c.id == _S.c.reviewer_id)


def add(conn: Connection, image_id: str, reviewer_id: int, in_scope: bool, now: datetime,
        model_version: Optional[str], scope_reason: Optional[str]) -> ScopeMark:
    new_id = conn.execute(insert(_S).values(image_id=image_id, reviewer_id=reviewer_id, in_scope=bool(in_scope),
                                            created_at=now, model_version=model_version,
                                            scope_reason=scope_reason)).inserted_primary_key[0]
    return _mark(conn.execute(_query().where(_S.c.id == new_id)).one())


def in_force(conn: Connection, image_ids: Optional[Iterable[str]] = None) -> dict[str, ScopeMark]:
    """image id → its latest mark (images never marked are absent)."""
    wanted = None if image_ids is None else set(image_ids)
    out: dict[str, ScopeMark] = {}
    for r in conn.execute(_query().order_by(_S.c.id)):
        if wanted is None or r.image_id in wanted:
            out[r.image_id] = _mark(r)
    return out


def latest_query(image_ids: Optional[Iterable[str]] = None):  # noqa: ANN201
    """Every marked image's events ranked newest first (``rn`` = 1 is the mark in force), with the
    reviewer's name: for joining into ``Store.image_rows``' one query."""
    q = select(_S.c.image_id, _S.c.id, _S.c.in_scope, _S.c.created_at, _S.c.model_version, _S.c.scope_reason,
               _R.c.name, func.row_number().over(partition_by=_S.c.image_id, order_by=_S.c.id.desc()).label("rn")
               ).join(_R, _R.c.id == _S.c.reviewer_id)
    if image_ids is not None:
        q = q.where(_S.c.image_id.in_(list(image_ids)))
    return q


def columns(mark) -> list:  # noqa: ANN001
    """The columns of ``latest_query``'s subquery that ``from_row`` reads (labelled ``mark_*``)."""
    return [mark.c.id.label("mark_id"), mark.c.in_scope.label("mark_in_scope"),
            mark.c.created_at.label("mark_at"), mark.c.model_version.label("mark_model_version"),
            mark.c.scope_reason.label("mark_scope_reason"), mark.c.name.label("mark_reviewer")]


def from_row(r) -> Optional[ScopeMark]:  # noqa: ANN001
    """The mark in force from an ``image_rows`` row (None when the image was never marked)."""
    if r.mark_id is None:
        return None
    return ScopeMark(r.mark_id, r.id, r.mark_reviewer, bool(r.mark_in_scope), _utc(r.mark_at), r.mark_model_version,
                     r.mark_scope_reason)
