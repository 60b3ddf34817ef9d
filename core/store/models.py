"""The database tables (SQLModel). Schema changes go through an Alembic revision in
``core/store/migrations/versions`` AND here; ``tests/core/store/test_migrations.py`` checks both agree.

Privacy: ``image`` holds only technical and non-identifying DICOM attributes (UIDs, modality, body
part, view) — never patient names, IDs or birth dates. Times are UTC (timezone-aware in Python).

Types per engine (revision 0003): sizes and ``mtime_ns`` are 64-bit (BIGINT on PostgreSQL; SQLite's
INTEGER is 64-bit already) and times are ``timestamp with time zone`` on PostgreSQL (SQLite stores the
UTC text). The ``with_variant`` types say exactly that, so the schema comparison test holds on both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.results import LABELS  # re-exported: the store validates labels against it

BIGINT = BigInteger().with_variant(Integer(), "sqlite")
UTC_TIME = DateTime(timezone=True).with_variant(DateTime(), "sqlite")


def _int64(**kw) -> Column:  # noqa: ANN003
    return Column(BIGINT, nullable=kw.pop("nullable", False), **kw)


def _time(**kw) -> Column:  # noqa: ANN003
    return Column(UTC_TIME, nullable=kw.pop("nullable", False), **kw)


ROLE_READER = "reader"
ROLE_ADJUDICATOR = "adjudicator"
ROLES = (ROLE_READER, ROLE_ADJUDICATOR)
MODE_AIDED = "aided"  # the model's probability, flag and heatmap were shown
MODE_BLINDED = "blinded"  # the model was hidden (and the order random)
MODES = (MODE_AIDED, MODE_BLINDED)
UNIT_STUDY = "study"  # a decision on a study row: every view decided at once (revision 0007)
UNIT_VIEW = "view"  # one view of a study, decided in the study mode
UNITS = (UNIT_STUDY, UNIT_VIEW)

KIND_DECIDE = "decide"
KIND_UNDO = "undo"


class Image(SQLModel, table=True):
    """One image, identified by the SHA-256 of its file's bytes (duplicates are one image)."""

    __tablename__ = "image"
    id: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_column=_int64())
    width: Optional[int] = None
    height: Optional[int] = None
    format: Optional[str] = None
    notes: Optional[str] = None  # "; "-joined reader notes
    study_uid: Optional[str] = None
    series_uid: Optional[str] = None
    sop_uid: Optional[str] = None
    modality: Optional[str] = None
    body_part: Optional[str] = None
    view_position: Optional[str] = None
    first_seen: datetime = Field(sa_column=_time())


class Location(SQLModel, table=True):
    """Where an image's file was last seen (path ↔ image), so re-scans are incremental."""

    __tablename__ = "location"
    __table_args__ = (Index("ix_location_name", "name"), Index("ix_location_image", "image_id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    path: str = Field(sa_column=Column(String, nullable=False, unique=True))
    name: str  # file name, for import by file name
    image_id: str = Field(sa_column=Column(String, ForeignKey("image.id"), nullable=False))
    size: int = Field(sa_column=_int64())
    mtime_ns: int = Field(sa_column=_int64())
    last_seen: datetime = Field(sa_column=_time())


class ScanError(SQLModel, table=True):
    """A file the last scan of its folder could not use, and why."""

    __tablename__ = "scan_error"
    id: Optional[int] = Field(default=None, primary_key=True)
    path: str = Field(sa_column=Column(String, nullable=False, unique=True))
    name: str
    image_id: Optional[str] = None  # set when the bytes could be hashed
    size: int = Field(sa_column=_int64())
    mtime_ns: int = Field(sa_column=_int64())
    error: str
    error_kind: Optional[str] = None
    seen_at: datetime = Field(sa_column=_time())


class Prediction(SQLModel, table=True):
    """A model version's probability for an image; a new model version adds rows."""

    __tablename__ = "prediction"
    __table_args__ = (UniqueConstraint("image_id", "model_version", name="uq_prediction_image_model"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    image_id: str = Field(sa_column=Column(String, ForeignKey("image.id"), nullable=False))
    model_version: str
    probability: float
    created_at: datetime = Field(sa_column=_time())
    scope: Optional[str] = None  # 'in_scope' | 'out_of_scope' (core.scope; revision 0005), None: not assessed
    scope_reason: Optional[str] = None  # why out of scope, for clinicians


class Reviewer(SQLModel, table=True):
    """A reader: name or initials, and a role — ``reader`` (reads images) or ``adjudicator`` (decides
    the reference label where readers disagree; revision 0004)."""

    __tablename__ = "reviewer"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String, nullable=False, unique=True))
    created_at: datetime = Field(sa_column=_time())
    role: str = Field(default=ROLE_READER, sa_column=Column(String, nullable=False, server_default=ROLE_READER))


class DecisionEvent(SQLModel, table=True):
    """Append-only audit trail: a label decided (kind 'decide') or an earlier decision undone (kind 'undo');
    a 'decide' event whose ``undoes_id`` points at an 'undo' event is a redo (``core.store.decisions``)."""

    __tablename__ = "decision"
    __table_args__ = (
        Index("ix_decision_image", "image_id", "id"),
        Index("ix_decision_reviewer", "reviewer_id", "id"),
        Index("ix_decision_undoes", "undoes_id"),  # revision 0002
        Index("uq_decision_uid", "uid", unique=True),  # revision 0003
        Index("ix_decision_batch", "batch"),  # revision 0007
    )
    id: Optional[int] = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    image_id: str = Field(sa_column=Column(String, ForeignKey("image.id"), nullable=False))
    reviewer_id: int = Field(sa_column=Column(Integer, ForeignKey("reviewer.id"), nullable=False))
    kind: str  # 'decide' | 'undo'
    label: Optional[str] = None  # for 'decide': fracture | no_fracture | doubt
    note: Optional[str] = None
    created_at: datetime = Field(sa_column=_time())
    model_version: Optional[str] = None  # what the reviewer saw
    probability: Optional[float] = None
    replaces_id: Optional[int] = Field(default=None, sa_column=Column(Integer, ForeignKey("decision.id")))
    # 'undo': the decision undone; 'decide': None, or the undo event this redo reverses
    undoes_id: Optional[int] = Field(default=None, sa_column=Column(Integer, ForeignKey("decision.id")))
    # a random id made by the writer before the first attempt (revision 0003): a write retried after a
    # lost connection, or a decision copied between databases, is recognised and never stored twice.
    # Nullable only because SQLite cannot add a NOT NULL column in place; every row has one.
    uid: Optional[str] = Field(default=None, sa_column=Column(String(32), nullable=True))
    # revision 0004: the role the reviewer decided in, aided or blinded reading, milliseconds from
    # showing the image to the decision, and on PostgreSQL the database user (``current_user``)
    role: Optional[str] = None
    reading_mode: Optional[str] = None
    shown_ms: Optional[int] = None
    db_user: Optional[str] = None
    # revision 0007 (core.studies): the image's pseudonymous study key, how the decision was made
    # ('study': one key on a study row decided every view; 'view': one view in the study mode; None:
    # the image list), the study score shown, and the uid shared by the events of one study decision
    study: Optional[str] = None
    unit: Optional[str] = None
    study_score: Optional[float] = None
    batch: Optional[str] = Field(default=None, sa_column=Column(String(32), nullable=True))


class Claim(SQLModel, table=True):
    """An image a reader has open, so others' "next image" skips it until ``expires_at`` (revision 0004)."""

    __tablename__ = "claim"
    image_id: str = Field(sa_column=Column(String, ForeignKey("image.id"), primary_key=True))
    reviewer_id: int = Field(sa_column=Column(Integer, ForeignKey("reviewer.id"), nullable=False))
    expires_at: datetime = Field(sa_column=_time())


class ScopeOverride(SQLModel, table=True):
    """Append-only: a reader marked an out-of-scope image "in scope after all" (``in_scope`` true) or
    withdrew that mark (false). The latest event per image is in force (revision 0005)."""

    __tablename__ = "scope_override"
    __table_args__ = (Index("ix_scope_override_image", "image_id", "id"),)
    id: Optional[int] = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    image_id: str = Field(sa_column=Column(String, ForeignKey("image.id"), nullable=False))
    reviewer_id: int = Field(sa_column=Column(Integer, ForeignKey("reviewer.id"), nullable=False))
    in_scope: bool
    created_at: datetime = Field(sa_column=_time())
    model_version: Optional[str] = None  # the model whose verdict was overridden
    scope_reason: Optional[str] = None  # the verdict's reason at the time


class ModelEvent(SQLModel, table=True):
    """Append-only trail of what the clinic did with its models (revision 0006): kind 'calibrate'
    (thresholds fitted on the clinic's labels made active for one model version), 'revert' (back to
    the card's thresholds for that version) or 'activate' (this model is the one the app uses). Who,
    when, and on what basis (``basis``: JSON with the counts the figures rest on)."""

    __tablename__ = "model_event"
    __table_args__ = (Index("ix_model_event_version", "model_version", "id"),)
    id: Optional[int] = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    kind: str  # 'calibrate' | 'revert' | 'activate'
    model_name: str
    model_version: str
    suspicious: Optional[float] = None  # for 'calibrate'
    definite: Optional[float] = None
    basis: Optional[str] = None  # JSON
    actor: str  # who (reviewer name)
    created_at: datetime = Field(sa_column=_time())


class MetaValue(SQLModel, table=True):
    """Small key/value settings of this database (e.g. the export pseudonym secret)."""

    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


__all__ = ["Image", "Location", "ScanError", "Prediction", "Reviewer", "DecisionEvent", "ScopeOverride", "ModelEvent", "MetaValue",
           "Claim", "LABELS", "ROLES", "MODES", "ROLE_READER", "ROLE_ADJUDICATOR", "MODE_AIDED", "MODE_BLINDED"]
