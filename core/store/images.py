"""Scan results in the store: the image, location, prediction and per-file error rows a scan writes
(one batch in one transaction, a handful of statements per batch), what a re-scan asks of every file it
finds (``known_locations``), and the image reads the worklist and export are built from (``image_rows``,
``ImageRow``). ``core.store.store.Store`` is the interface; these functions take its engine or the
connection of its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection, Engine

from core.results import DUPLICATE, ERROR, REUSED, SCORED, DicomMeta, ImageMeta, ScanItem
from core.store import scope_events
from core.store.engine import read_connection
from core.store.models import Image, Location, Prediction, ScanError
from core.store.scope_events import ScopeMark
from core.store.sqlbits import chunks, insert_ignore_many, path_from_key, path_key, under, upsert_many

_I, _L, _E, _P = Image.__table__, Location.__table__, ScanError.__table__, Prediction.__table__
_NO_META = object()
_IMAGE_COLUMNS = ("width", "height", "format", "notes", "study_uid", "series_uid", "sop_uid", "modality", "body_part",
                  "view_position")


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
    scope: Optional[str] = None  # the model's verdict (core.scope); None: not assessed
    scope_reason: Optional[str] = None
    scope_mark: Optional[ScopeMark] = None  # a reader's "in scope after all" mark in force, if any
    study_uid: Optional[str] = None  # DICOM StudyInstanceUID (core.studies groups by it; never shown)


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


def write_scan_results(conn: Connection, items: list[ScanItem], now: datetime) -> None:
    """One batch of scan results in the caller's transaction (see ``Store.record_scan_results``)."""
    for item in items:
        if item.status != ERROR and item.image_id and item.status not in (SCORED, REUSED, DUPLICATE):
            raise ValueError(f"unknown scan status {item.status!r}")
    last: dict[str, ScanItem] = {}
    for item in items:
        last.pop(path_key(item.path), None)  # keep batch order for the survivors
        last[path_key(item.path)] = item
    errors = {p: i for p, i in last.items() if i.status == ERROR or not i.image_id}
    # unchanged files: their image, location and prediction rows are what the scan read them from
    reused = [p for p, i in last.items() if i.status == REUSED and p not in errors]
    good = {p: i for p, i in last.items() if p not in errors and i.status != REUSED}
    if errors:
        for group in chunks(list(errors)):
            conn.execute(delete(_L).where(_L.c.path.in_(list(group))))
        upsert_many(conn, _E, [dict(path=p, name=Path(p).name, image_id=i.image_id, size=i.size,
                                    mtime_ns=i.mtime_ns, error=i.error or "could not be read",
                                    error_kind=i.error_kind, seen_at=now) for p, i in errors.items()],
                    ["path"], ["name", "image_id", "size", "mtime_ns", "error", "error_kind", "seen_at"])
    for group in chunks(reused):  # only "seen now" (which of an image's paths is the latest)
        conn.execute(update(_L).where(_L.c.path.in_(list(group))).values(last_seen=now))
        conn.execute(delete(_E).where(_E.c.path.in_(list(group))))
    if not good:
        return
    images: dict[str, dict] = {}
    fill: dict[str, dict] = {}  # meta for an earlier, meta-less record
    for i in good.values():
        values = {**dict.fromkeys(_IMAGE_COLUMNS), **_image_values(i)}
        images.setdefault(i.image_id, dict(id=i.image_id, first_seen=now, **values))
        if i.meta is not None:
            fill.setdefault(i.image_id, {"v_id": i.image_id, **{"v_" + k: v for k, v in values.items()}})
    insert_ignore_many(conn, _I, list(images.values()), ["id"])
    if fill:
        conn.execute(update(_I).where(_I.c.id == bindparam("v_id"), _I.c.format.is_(None))
                     .values({c: bindparam("v_" + c) for c in ("size", *_IMAGE_COLUMNS)}), list(fill.values()))
    upsert_many(conn, _L, [dict(path=p, name=Path(p).name, image_id=i.image_id, size=i.size,
                                mtime_ns=i.mtime_ns, last_seen=now) for p, i in good.items()],
                ["path"], ["image_id", "size", "mtime_ns", "last_seen"])
    for group in chunks(list(good)):
        conn.execute(delete(_E).where(_E.c.path.in_(list(group))))
    preds: dict[tuple, dict] = {}
    verdicts: dict[tuple, dict] = {}  # a re-scan's verdict replaces the stored one
    for i in good.values():
        if i.probability is None or not i.model_version:
            continue
        key = (i.image_id, i.model_version)
        preds.setdefault(key, dict(image_id=i.image_id, model_version=i.model_version,
                                   probability=float(i.probability), created_at=now, scope=i.scope,
                                   scope_reason=i.scope_reason))
        if i.scope is not None:
            verdicts[key] = dict(v_i=key[0], v_m=key[1], v_scope=i.scope, v_reason=i.scope_reason)
    insert_ignore_many(conn, _P, list(preds.values()), ["image_id", "model_version"])
    if verdicts:
        conn.execute(update(_P).where(_P.c.image_id == bindparam("v_i"), _P.c.model_version == bindparam("v_m"))
                     .values(scope=bindparam("v_scope"), scope_reason=bindparam("v_reason")),
                     list(verdicts.values()))


def known_locations(engine: Engine, files: Iterable[tuple[Path, int, int]], model_version: Optional[str]) -> dict:
    """The unchanged ones of ``files`` ((path, size, mtime_ns) each): stored path (``path_key``) →
    (image id, probability for ``model_version`` or None, meta, scope, scope reason). One query per
    500 files (location by its unique path, its image, the version's prediction), one connection:
    what a re-scan asks of every file it finds."""
    wanted: dict[str, tuple[int, int]] = {}
    for path, size, mtime_ns in files:
        wanted[path_key(path)] = (int(size), int(mtime_ns))
    if not wanted:
        return {}
    pred = _P.alias("p")
    on = pred.c.image_id == _L.c.image_id
    on = on & (pred.c.model_version == model_version) if model_version else on & (pred.c.id.is_(None))
    cols = (_L.c.path, _L.c.size.label("loc_size"), _L.c.mtime_ns.label("loc_mtime"), _L.c.image_id,
            _I.c.width, _I.c.height, _I.c.format, _I.c.notes, _I.c.study_uid, _I.c.series_uid, _I.c.sop_uid,
            _I.c.modality, _I.c.body_part, _I.c.view_position,
            pred.c.probability, pred.c.scope, pred.c.scope_reason)
    out: dict = {}
    metas: dict[tuple, Optional[ImageMeta]] = {}  # many images share one (size, format, no DICOM tags)
    with read_connection(engine) as conn:
        for group in chunks(list(wanted)):
            q = (select(*cols).select_from(_L.join(_I, _I.c.id == _L.c.image_id).outerjoin(pred, on))
                 .where(_L.c.path.in_(list(group))))
            for r in conn.execute(q).all():
                if wanted.get(r[0]) != (r[1], r[2]):
                    continue
                m = r[4:14]
                meta = metas.get(m, _NO_META)
                if meta is _NO_META:
                    meta = metas[m] = _meta_from_row(r)
                out[r[0]] = (r[3], r[14], meta, r[15], r[16])
    return out


def image_rows(engine: Engine, root: Optional[Path], model_version: Optional[str],
               image_ids: Optional[Iterable[str]]) -> list[ImageRow]:
    """Images (with a location under ``root``, or all), each with its latest location and its
    probability for ``model_version`` (None: the most recent prediction of any version), ordered
    by path. One query (per 500 ``image_ids``): the latest location and prediction are picked by
    ``ROW_NUMBER()`` in SQL."""
    with read_connection(engine) as conn:
        dialect = conn.dialect.name
        groups = [None] if image_ids is None else list(chunks(list(dict.fromkeys(image_ids))))
        rows: list[ImageRow] = []
        for group in groups:
            for r in conn.execute(_image_rows_query(root, model_version, group, dialect)):
                rows.append(
                    ImageRow(
                        image_id=r.id,
                        path=path_from_key(r.path),
                        probability=r.probability,
                        model_version=r.model_version if r.model_version is not None else model_version,
                        body_part=r.body_part,
                        view=r.view_position,
                        format=r.format,
                        notes=r.notes,
                        scope=r.scope,
                        scope_reason=r.scope_reason,
                        scope_mark=scope_events.from_row(r),
                        study_uid=r.study_uid,
                    )
                )
        if len(groups) > 1:
            rows.sort(key=lambda row: row.path)
        return rows


def _image_rows_query(root, model_version, image_ids, dialect):  # noqa: ANN001, ANN205
    loc = select(
        _L.c.image_id,
        _L.c.path,
        func.row_number().over(partition_by=_L.c.image_id, order_by=(_L.c.last_seen.desc(), _L.c.id.desc())).label("rn"),
    )
    cond = under(_L.c.path, root, dialect)
    if cond is not None:
        loc = loc.where(cond)
    if image_ids is not None:
        loc = loc.where(_L.c.image_id.in_(list(image_ids)))
    if model_version:  # at most one prediction per (image, version): joined by its unique index
        pred = _P.alias("pred")
        pred_on = (pred.c.image_id == _I.c.id) & (pred.c.model_version == model_version)
    else:  # the most recent prediction of any version
        ranked = select(
            _P.c.image_id,
            _P.c.probability,
            _P.c.model_version,
            _P.c.scope,
            _P.c.scope_reason,
            func.row_number().over(partition_by=_P.c.image_id, order_by=(_P.c.created_at.desc(), _P.c.id.desc())).label("rn"),
        )
        if image_ids is not None:
            ranked = ranked.where(_P.c.image_id.in_(list(image_ids)))
        pred = ranked.subquery("pred")
        pred_on = (pred.c.image_id == _I.c.id) & (pred.c.rn == 1)
    mark = scope_events.latest_query(image_ids)
    loc, mark = loc.subquery("loc"), mark.subquery("mark")
    return (
        select(_I.c.id, _I.c.body_part, _I.c.view_position, _I.c.format, _I.c.notes, _I.c.study_uid, loc.c.path,
               pred.c.probability, pred.c.model_version, pred.c.scope, pred.c.scope_reason,
               *scope_events.columns(mark))
        .join(loc, (loc.c.image_id == _I.c.id) & (loc.c.rn == 1))
        .outerjoin(pred, pred_on)
        .outerjoin(mark, (mark.c.image_id == _I.c.id) & (mark.c.rn == 1))
        .order_by(loc.c.path)
    )


def error_rows(engine: Engine, root: Optional[Path] = None) -> list[ErrorRow]:
    with read_connection(engine) as conn:
        q = select(_E).order_by(_E.c.path)
        cond = under(_E.c.path, root, conn.dialect.name)
        if cond is not None:
            q = q.where(cond)
        return [ErrorRow(path_from_key(r.path), r.error, r.error_kind, r.image_id) for r in conn.execute(q)]


def image_ids(engine: Engine, where) -> set[str]:  # noqa: ANN001
    """Image ids of the stored locations matching ``where`` (a condition on the location table)."""
    with read_connection(engine) as conn:
        return {r for (r,) in conn.execute(select(_L.c.image_id).where(where))}


def paths_of(engine: Engine, image_id: str) -> list[str]:
    """The image's known locations, most recently seen first."""
    q = select(_L.c.path).where(_L.c.image_id == image_id).order_by(_L.c.last_seen.desc(), _L.c.id.desc())
    with read_connection(engine) as conn:
        return [path_from_key(p) for (p,) in conn.execute(q)]
