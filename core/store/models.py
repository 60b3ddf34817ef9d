"""The database tables (SQLModel). Schema changes go through an Alembic revision in
``core/store/migrations/versions`` AND here; ``tests/core/store/test_migrations.py`` checks both agree.

Privacy: ``image`` holds only technical and non-identifying DICOM attributes (UIDs, modality, body
part, view) — never patient names, IDs or birth dates. Times are UTC (timezone-aware in Python).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.results import LABELS  # re-exported: the store validates labels against it

KIND_DECIDE = "decide"
KIND_UNDO = "undo"


class Image(SQLModel, table=True):
    """One image, identified by the SHA-256 of its file's bytes (duplicates are one image)."""

    __tablename__ = "image"
    id: str = Field(primary_key=True, max_length=64)
    size: int
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
    first_seen: datetime


class Location(SQLModel, table=True):
    """Where an image's file was last seen (path ↔ image), so re-scans are incremental."""

    __tablename__ = "location"
    __table_args__ = (Index("ix_location_name", "name"), Index("ix_location_image", "image_id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    path: str = Field(sa_column=Column(String, nullable=False, unique=True))
    name: str  # file name, for import by file name
    image_id: str = Field(sa_column=Column(String, ForeignKey("image.id"), nullable=False))
    size: int
    mtime_ns: int
    last_seen: datetime


class ScanError(SQLModel, table=True):
    """A file the last scan of its folder could not use, and why."""

    __tablename__ = "scan_error"
    id: Optional[int] = Field(default=None, primary_key=True)
    path: str = Field(sa_column=Column(String, nullable=False, unique=True))
    name: str
    image_id: Optional[str] = None  # set when the bytes could be hashed
    size: int
    mtime_ns: int
    error: str
    error_kind: Optional[str] = None
    seen_at: datetime


class Prediction(SQLModel, table=True):
    """A model version's probability for an image; a new model version adds rows."""

    __tablename__ = "prediction"
    __table_args__ = (UniqueConstraint("image_id", "model_version", name="uq_prediction_image_model"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    image_id: str = Field(sa_column=Column(String, ForeignKey("image.id"), nullable=False))
    model_version: str
    probability: float
    created_at: datetime


class Reviewer(SQLModel, table=True):
    __tablename__ = "reviewer"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String, nullable=False, unique=True))
    created_at: datetime


class DecisionEvent(SQLModel, table=True):
    """Append-only audit trail: a label decided (kind 'decide') or an earlier decision undone (kind 'undo')."""

    __tablename__ = "decision"
    __table_args__ = (
        Index("ix_decision_image", "image_id", "id"),
        Index("ix_decision_reviewer", "reviewer_id", "id"),
        Index("ix_decision_undoes", "undoes_id"),  # revision 0002
    )
    id: Optional[int] = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    image_id: str = Field(sa_column=Column(String, ForeignKey("image.id"), nullable=False))
    reviewer_id: int = Field(sa_column=Column(Integer, ForeignKey("reviewer.id"), nullable=False))
    kind: str  # 'decide' | 'undo'
    label: Optional[str] = None  # for 'decide': fracture | no_fracture | doubt
    note: Optional[str] = None
    created_at: datetime
    model_version: Optional[str] = None  # what the reviewer saw
    probability: Optional[float] = None
    replaces_id: Optional[int] = Field(default=None, sa_column=Column(Integer, ForeignKey("decision.id")))
    undoes_id: Optional[int] = Field(default=None, sa_column=Column(Integer, ForeignKey("decision.id")))


class MetaValue(SQLModel, table=True):
    """Small key/value settings of this database (e.g. the export pseudonym secret)."""

    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


__all__ = ["Image", "Location", "ScanError", "Prediction", "Reviewer", "DecisionEvent", "MetaValue", "LABELS"]
