"""``Store``: the label database's operations over an injected engine — scan results (images,
locations, predictions, per-file errors), decisions (append-only events, durable before returning)
and the read queries the worklist, export and import need.

Every write goes through ``core.store.engine.run_write`` (one ``BEGIN IMMEDIATE`` transaction, the one
place that retries on "database is locked"); every multi-query read through ``read_connection``.
A ``Store`` may be shared between threads (each call takes its own pooled connection).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from core.results import DUPLICATE, ERROR, REUSED, SCORED, DicomMeta, ImageMeta, ScanItem
from core.store import decisions as dec
from core.store.decisions import Decision
from core.store.engine import describe, read_connection, run_write
from core.store.errors import StoreError
from core.store.models import (
    KIND_DECIDE,
    KIND_UNDO,
    LABELS,
    DecisionEvent,
    Image,
    Location,
    MetaValue,
    Prediction,
    Reviewer,
    ScanError,
)

_I, _L, _E, _P = Image.__table__, Location.__table__, ScanError.__table__, Prediction.__table__
_R, _D, _M = Reviewer.__table__, DecisionEvent.__table__, MetaValue.__table__
_SECRET_KEY = "export_pseudonym_secret"


def _now() -> datetime:
    return datetime.now(timezone.utc)


# Linux file names may hold bytes that are not UTF-8 (Python keeps them as lone surrogates
# U+DC80..U+DCFF, PEP 383), which SQLite text cannot store. They are stored as the private-use
# characters U+F780..U+F7FF instead — reversible, and prefix matching on folders still works.
_SURROGATE_TO_PUA = {0xDC80 + b: 0xF780 + b for b in range(128)}
_PUA_TO_SURROGATE = {v: k for k, v in _SURROGATE_TO_PUA.items()}


def _path_key(path: Path | str) -> str:
    return str(Path(path).absolute()).translate(_SURROGATE_TO_PUA)


def path_from_key(key: str) -> str:
    """The file system path for a stored path (undoes ``_path_key``'s escaping of non-UTF-8 bytes)."""
    return key.translate(_PUA_TO_SURROGATE)


def _under(column, root: Optional[Path | str]):  # noqa: ANN001
    """SQL condition: ``column`` (a path) is ``root`` itself or inside it."""
    if root is None:
        return None
    base = _path_key(root).rstrip("/\\")
    pattern = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(column == base, column.like(pattern + "/%", escape="\\"), column.like(pattern + "\\\\%", escape="\\"))


@dataclass(frozen=True)
class ImageRow:
    """One image as the worklist and export see it (``path``: its most recently seen location)."""

    image_id: str
    path: str
    probability: Optional[float]
    model_version: Optional[str]
    body_part: Optional[str]
    view: Optional[str]
    format: Optional[str]
    notes: Optional[str] = None  # the reader's "; "-joined caveats ("first page of 3 (multi-page TIFF)")


@dataclass(frozen=True)
class ErrorRow:
    path: str
    error: str
    error_kind: Optional[str]
    image_id: Optional[str]


def _meta_from_row(row) -> Optional[ImageMeta]:  # noqa: ANN001
    if row.width is None or row.height is None or row.format is None:
        return None
    dicom = None
    if row.format == "DICOM":
        dicom = DicomMeta(row.study_uid, row.series_uid, row.sop_uid, row.modality, row.body_part, row.view_position)
    notes = tuple(n for n in (row.notes or "").split("; ") if n)
    return ImageMeta(width=row.width, height=row.height, format=row.format, notes=notes, dicom=dicom)


def _image_values(item: ScanItem) -> dict:
    meta = item.meta
    values: dict = {"size": item.size}
    if meta is not None:
        values.update(width=meta.width, height=meta.height, format=meta.format, notes="; ".join(meta.notes) or None)
        d = meta.dicom
        if d is not None:
            values.update(
                study_uid=d.study_uid,
                series_uid=d.series_uid,
                sop_uid=d.sop_uid,
                modality=d.modality,
                body_part=d.body_part,
                view_position=d.view_position,
            )
    return values


class Store:
    """The label database. Create with ``core.store.open_store`` (or ``Store(engine)`` on a migrated engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def location(self) -> str:
        """Where the database is (file path, or the URL without password)."""
        return describe(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.close()

    # ------------------------------------------------------------------ scan results
    def record_scan_results(self, root: Path, items: list[ScanItem]) -> None:
        """Store one batch of scan results (images, locations, predictions, errors) in one transaction."""
        if not items:
            return
        now = _now()

        def work(conn: Connection) -> None:
            for item in items:
                path = _path_key(item.path)
                if item.status == ERROR or not item.image_id:
                    conn.execute(delete(_L).where(_L.c.path == path))
                    values = dict(
                        name=Path(path).name,
                        image_id=item.image_id,
                        size=item.size,
                        mtime_ns=item.mtime_ns,
                        error=item.error or "could not be read",
                        error_kind=item.error_kind,
                        seen_at=now,
                    )
                    if conn.execute(update(_E).where(_E.c.path == path).values(**values)).rowcount == 0:
                        conn.execute(insert(_E).values(path=path, **values))
                    continue
                if item.status not in (SCORED, REUSED, DUPLICATE):
                    raise ValueError(f"unknown scan status {item.status!r}")
                image_values = _image_values(item)
                exists = conn.execute(select(_I.c.id, _I.c.format).where(_I.c.id == item.image_id)).first()
                if exists is None:
                    conn.execute(insert(_I).values(id=item.image_id, first_seen=now, **image_values))
                elif exists.format is None and item.meta is not None:
                    conn.execute(update(_I).where(_I.c.id == item.image_id).values(**image_values))
                loc = dict(image_id=item.image_id, size=item.size, mtime_ns=item.mtime_ns, last_seen=now)
                if conn.execute(update(_L).where(_L.c.path == path).values(**loc)).rowcount == 0:
                    conn.execute(insert(_L).values(path=path, name=Path(path).name, **loc))
                conn.execute(delete(_E).where(_E.c.path == path))
                if item.probability is not None and item.model_version:
                    have = conn.execute(
                        select(_P.c.id).where(_P.c.image_id == item.image_id, _P.c.model_version == item.model_version)
                    ).first()
                    if have is None:
                        conn.execute(
                            insert(_P).values(
                                image_id=item.image_id,
                                model_version=item.model_version,
                                probability=float(item.probability),
                                created_at=now,
                            )
                        )

        run_write(self.engine, work)

    def clear_scan_errors(self, root: Path) -> None:
        """Forget the per-file errors under ``root`` (call when a new scan of it starts)."""
        run_write(self.engine, lambda conn: conn.execute(delete(_E).where(_under(_E.c.path, root))))

    def known_location(
        self, path: Path, size: int, mtime_ns: int, model_version: Optional[str]
    ) -> Optional[tuple[str, Optional[float], Optional[ImageMeta]]]:
        """(image id, probability for ``model_version`` or None, meta) if ``path`` is unchanged since it was stored."""
        with read_connection(self.engine) as conn:
            loc = conn.execute(
                select(_L.c.image_id).where(_L.c.path == _path_key(path), _L.c.size == size, _L.c.mtime_ns == mtime_ns)
            ).first()
            if loc is None:
                return None
            img = conn.execute(select(_I).where(_I.c.id == loc.image_id)).first()
            prob = None
            if model_version:
                prob = conn.execute(
                    select(_P.c.probability).where(_P.c.image_id == loc.image_id, _P.c.model_version == model_version)
                ).scalar()
            return loc.image_id, prob, (_meta_from_row(img) if img is not None else None)

    # ------------------------------------------------------------------ decisions
    def record_decision(
        self,
        image_id: str,
        reviewer: str,
        label: str,
        *,
        note: Optional[str] = None,
        model_version: Optional[str] = None,
        probability: Optional[float] = None,
    ) -> Decision:
        """Append a decision event; returns only after it is committed (fsynced with synchronous=FULL)."""
        if label not in LABELS:
            raise ValueError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise ValueError("a reviewer name is required for every decision")
        now = _now()

        def work(conn: Connection) -> Decision:
            if conn.execute(select(_I.c.id).where(_I.c.id == image_id)).first() is None:
                raise StoreError(f"image {image_id[:12]}… is not in the database (scan its folder first)", "unknown_image")
            reviewer_id = self._reviewer_id(conn, reviewer, now)
            current = dec.current_for(conn, image_id)
            new_id = conn.execute(
                insert(_D).values(
                    image_id=image_id,
                    reviewer_id=reviewer_id,
                    kind=KIND_DECIDE,
                    label=label,
                    note=note,
                    created_at=now,
                    model_version=model_version,
                    probability=None if probability is None else float(probability),
                    replaces_id=current.id if current else None,
                )
            ).inserted_primary_key[0]
            return dec.get(conn, new_id)

        return run_write(self.engine, work)

    def undo_last(self, reviewer: str) -> Optional[Decision]:
        """Undo the reviewer's latest decision that is not undone yet, as an 'undo' event (None: nothing to undo)."""
        reviewer = (reviewer or "").strip()
        now = _now()

        def work(conn: Connection) -> Optional[Decision]:
            rid = conn.execute(select(_R.c.id).where(_R.c.name == reviewer)).scalar()
            if rid is None:
                return None
            target_id = dec.last_undoable_id(conn, rid)
            if target_id is None:
                return None
            target = dec.get(conn, target_id)
            new_id = conn.execute(
                insert(_D).values(
                    image_id=target.image_id,
                    reviewer_id=rid,
                    kind=KIND_UNDO,
                    created_at=now,
                    undoes_id=target_id,
                    model_version=target.model_version,
                    probability=target.probability,
                )
            ).inserted_primary_key[0]
            undo = dec.get(conn, new_id)
            restored = dec.current_for(conn, target.image_id)
            return Decision(**{**undo.__dict__, "restored": restored})

        return run_write(self.engine, work)

    def current_labels(self, image_ids: Optional[Iterable[str]] = None) -> dict[str, Decision]:
        """image id → its current decision (images without one are absent)."""
        with read_connection(self.engine) as conn:
            return dec.current_labels(conn, image_ids)

    def decision_history(self, image_id: str) -> list[Decision]:
        """Every event of one image, oldest first (the audit trail)."""
        with read_connection(self.engine) as conn:
            return dec.events(conn, [image_id])

    def all_decisions(self) -> list[Decision]:
        with read_connection(self.engine) as conn:
            return dec.events(conn)

    def reviewers(self) -> list[str]:
        with read_connection(self.engine) as conn:
            return [r for (r,) in conn.execute(select(_R.c.name).order_by(_R.c.name))]

    @staticmethod
    def _reviewer_id(conn: Connection, name: str, now: datetime) -> int:
        rid = conn.execute(select(_R.c.id).where(_R.c.name == name)).scalar()
        if rid is None:
            rid = conn.execute(insert(_R).values(name=name, created_at=now)).inserted_primary_key[0]
        return int(rid)

    # ------------------------------------------------------------------ reads for worklist/export/import
    def image_rows(
        self, root: Optional[Path] = None, model_version: Optional[str] = None, image_ids: Optional[Iterable[str]] = None
    ) -> list[ImageRow]:
        """Images (with a location under ``root``, or all), each with its latest location and its
        probability for ``model_version`` (None: the most recent prediction of any version)."""
        with read_connection(self.engine) as conn:
            q = select(_L.c.image_id, _L.c.path, _L.c.last_seen, _L.c.id).order_by(_L.c.last_seen, _L.c.id)
            cond = _under(_L.c.path, root)
            if cond is not None:
                q = q.where(cond)
            wanted = None if image_ids is None else set(image_ids)
            paths: dict[str, str] = {}
            for r in conn.execute(q):
                if wanted is None or r.image_id in wanted:
                    paths[r.image_id] = path_from_key(r.path)  # later rows (more recently seen) win
            preds: dict[str, tuple[float, str]] = {}
            pq = select(_P.c.image_id, _P.c.probability, _P.c.model_version).order_by(_P.c.created_at, _P.c.id)
            if model_version:
                pq = pq.where(_P.c.model_version == model_version)
            for r in conn.execute(pq):
                if r.image_id in paths:
                    preds[r.image_id] = (r.probability, r.model_version)
            rows = []
            iq = select(_I.c.id, _I.c.body_part, _I.c.view_position, _I.c.format, _I.c.notes)
            for r in conn.execute(iq):
                if r.id in paths:
                    p = preds.get(r.id)
                    rows.append(
                        ImageRow(
                            image_id=r.id,
                            path=paths[r.id],
                            probability=p[0] if p else None,
                            model_version=p[1] if p else model_version,
                            body_part=r.body_part,
                            view=r.view_position,
                            format=r.format,
                            notes=r.notes,
                        )
                    )
            return rows

    def error_rows(self, root: Optional[Path] = None) -> list[ErrorRow]:
        q = select(_E).order_by(_E.c.path)
        cond = _under(_E.c.path, root)
        if cond is not None:
            q = q.where(cond)
        with read_connection(self.engine) as conn:
            return [ErrorRow(path_from_key(r.path), r.error, r.error_kind, r.image_id) for r in conn.execute(q)]

    def images_at(self, path: Path) -> set[str]:
        """Image ids stored for exactly this path."""
        with read_connection(self.engine) as conn:
            return {r for (r,) in conn.execute(select(_L.c.image_id).where(_L.c.path == _path_key(path)))}

    def images_named(self, name: str) -> set[str]:
        """Image ids of every stored location with this file name (any folder)."""
        with read_connection(self.engine) as conn:
            return {r for (r,) in conn.execute(select(_L.c.image_id).where(_L.c.name == name.translate(_SURROGATE_TO_PUA)))}

    def paths_of(self, image_id: str) -> list[str]:
        """The image's known locations, most recently seen first."""
        q = select(_L.c.path).where(_L.c.image_id == image_id).order_by(_L.c.last_seen.desc(), _L.c.id.desc())
        with read_connection(self.engine) as conn:
            return [path_from_key(p) for (p,) in conn.execute(q)]

    def pseudonym_secret(self) -> bytes:
        """A random per-database secret for export pseudonyms (created on first use, never exported)."""

        def work(conn: Connection) -> str:
            value = conn.execute(select(_M.c.value).where(_M.c.key == _SECRET_KEY)).scalar()
            if value is None:
                value = secrets.token_hex(32)
                conn.execute(insert(_M).values(key=_SECRET_KEY, value=value))
            return value

        with read_connection(self.engine) as conn:
            value = conn.execute(select(_M.c.value).where(_M.c.key == _SECRET_KEY)).scalar()
        if value is None:
            value = run_write(self.engine, work)
        return bytes.fromhex(value)
