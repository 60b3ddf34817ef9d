"""The label store: a SQLite (any SQLAlchemy URL) database of images, where they were seen, model
predictions, per-file scan errors, reviewers and append-only decision events — the audit trail of who
decided what, when, having seen which score.

Entry point: ``open_store(url)``; see ``core.store.store.Store`` for the operations, ``engine`` for the
connection settings (WAL, busy timeout, synchronous=FULL), ``migrate`` for Alembic, ``backup`` for the
daily backups.
"""

from __future__ import annotations

from core.store.decisions import Decision
from core.store.engine import make_engine
from core.store.errors import StoreError
from core.store.models import LABELS
from core.store.opening import open_store
from core.store.model_events import ModelEventRow
from core.store.store import ErrorRow, ImageRow, LabelledImage, Store

__all__ = ["open_store", "make_engine", "Store", "StoreError", "Decision", "LABELS", "ImageRow", "ErrorRow", "LabelledImage", "ModelEventRow"]
