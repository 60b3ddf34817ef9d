"""``copy_database``: move a label database to another engine — a workstation's SQLite file into the
clinic's shared PostgreSQL server, or back — without losing or duplicating anything, and prove it.

What is copied, and how a row already in the target is recognised (so a second run copies nothing):
images by id (the SHA-256 of the file), locations and scan errors by path (the more recently seen
wins), predictions by (image, model version), reviewers by name, decision events by their ``uid``
(revision 0003), with their reviewer, ``replaces`` and ``undoes`` links re-pointed to the target's
ids. Events are appended in their original order. The export pseudonym secret is copied only into a
target that has none (a target keeps its own; the report says when they differ).

Verification after the copy, read back from the target: every source event's uid is there exactly
once, and a SHA-256 over the source events' content (uid, image, reviewer, kind, label, note, time
in UTC, model version, probability, linked events by uid, and any further columns) equals the same
digest computed over the target's copies; images, predictions and locations are counted too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Optional

from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import Connection

from core.store.decisions import utc
from core.store.engine import read_connection, run_write
from core.store.models import DecisionEvent, Image, Location, MetaValue, Prediction, Reviewer, ScanError
from core.store.sqlbits import chunks, insert_ignore, upsert
from core.store.store import Store

_I, _L, _E, _P = Image.__table__, Location.__table__, ScanError.__table__, Prediction.__table__
_R, _D, _M = Reviewer.__table__, DecisionEvent.__table__, MetaValue.__table__
BATCH = 500
_LINKS = ("reviewer_id", "replaces_id", "undoes_id")


@dataclass
class TableCount:
    source: int = 0
    copied: int = 0  # new in the target
    present: int = 0  # the source's rows found in the target after the copy


@dataclass
class CopyReport:
    tables: dict[str, TableCount] = field(default_factory=dict)
    source_digest: str = ""
    target_digest: str = ""
    secret: str = ""  # "copied", "same", "target kept its own"
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.problems and self.source_digest == self.target_digest

    def as_dict(self) -> dict:
        return {
            "verified": self.verified,
            "tables": {k: vars(v) for k, v in self.tables.items()},
            "decision_digest_source": self.source_digest,
            "decision_digest_target": self.target_digest,
            "pseudonym_secret": self.secret,
            "problems": list(self.problems),
        }


def _clean(row: dict) -> dict:
    """Times as aware UTC (a naive SQLite time must not be read as the server's local time)."""
    return {k: (utc(v) if isinstance(v, datetime) else v) for k, v in row.items()}


def _rows(conn: Connection, table: Table, order) -> list[dict]:  # noqa: ANN001
    return [_clean(dict(r._mapping)) for r in conn.execute(select(table).order_by(order))]


def _no_id(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "id"}


def _copy_simple(src: Store, dst: Store, report: CopyReport, progress: Callable[[str], None]) -> dict[int, int]:
    """Images, reviewers, predictions, locations, scan errors; returns source → target reviewer ids."""
    with read_connection(src.engine) as conn:
        images, reviewers = _rows(conn, _I, _I.c.id), _rows(conn, _R, _R.c.id)
        predictions, locations = _rows(conn, _P, _P.c.id), _rows(conn, _L, _L.c.id)
        errors = _rows(conn, _E, _E.c.id)
    for name, rows in (("image", images), ("reviewer", reviewers), ("prediction", predictions),
                       ("location", locations), ("scan_error", errors)):
        report.tables[name] = TableCount(source=len(rows))

    def write(name: str, rows: list[dict], one: Callable[[Connection, dict], bool]) -> None:
        for part in chunks(rows, BATCH):
            report.tables[name].copied += run_write(dst.engine, lambda c, part=part: sum(one(c, r) for r in part))
        progress(f"{name}: {len(rows)}")

    def image(c: Connection, r: dict) -> bool:
        if insert_ignore(c, _I, r, ["id"]):
            return True
        if r.get("format") is not None:  # fill in what a meta-less record in the target lacks
            c.execute(update(_I).where(_I.c.id == r["id"], _I.c.format.is_(None)).values(**_no_id(r)))
        return False

    write("image", images, image)
    write("reviewer", reviewers, lambda c, r: insert_ignore(c, _R, _no_id(r), ["name"]))
    write("prediction", predictions, lambda c, r: insert_ignore(c, _P, _no_id(r), ["image_id", "model_version"]))

    def located(table: Table, stamp: str) -> Callable[[Connection, dict], bool]:
        def one(c: Connection, r: dict) -> bool:
            had = c.execute(select(table.c.id).where(table.c.path == r["path"])).first() is not None
            values = _no_id(r)
            upsert(c, table, values, ["path"], [k for k in values if k != "path"], newer=stamp)
            return not had

        return one

    write("location", locations, located(_L, "last_seen"))
    write("scan_error", errors, located(_E, "seen_at"))
    with read_connection(dst.engine) as conn:
        target_rev = dict(conn.execute(select(_R.c.name, _R.c.id)).all())
    return {r["id"]: target_rev[r["name"]] for r in reviewers}


def _copy_decisions(src: Store, dst: Store, reviewer_map: dict[int, int], report: CopyReport) -> None:
    with read_connection(src.engine) as conn:
        events = _rows(conn, _D, _D.c.id)
    report.tables["decision"] = TableCount(source=len(events))
    uid_of = {e["id"]: e["uid"] for e in events}
    target_id: dict[str, int] = {}

    def write(c: Connection, part) -> int:  # noqa: ANN001
        # ids of linked events copied in earlier batches (or already in the target)
        need = {uid_of[e[k]] for e in part for k in ("replaces_id", "undoes_id") if e.get(k)}
        missing = [u for u in need if u not in target_id]
        for group in chunks(missing, BATCH):
            target_id.update(dict(c.execute(select(_D.c.uid, _D.c.id).where(_D.c.uid.in_(list(group)))).all()))
        new = 0
        for e in part:
            values = _no_id(e)
            values["reviewer_id"] = reviewer_map[e["reviewer_id"]]
            for k in ("replaces_id", "undoes_id"):
                values[k] = target_id[uid_of[e[k]]] if e.get(k) else None
            new += insert_ignore(c, _D, values, ["uid"])
            target_id[e["uid"]] = c.execute(select(_D.c.id).where(_D.c.uid == e["uid"])).scalar_one()
        return new

    for part in chunks(events, BATCH):
        snapshot = dict(target_id)
        try:
            report.tables["decision"].copied += run_write(dst.engine, lambda c, part=part: write(c, part))
        except BaseException:
            target_id.clear()
            target_id.update(snapshot)  # ids from a rolled-back batch are not in the target
            raise


def decision_digest(store: Store, uids: Optional[set[str]] = None) -> tuple[str, int]:
    """(SHA-256 over the content of the events — all, or those with these uids — in uid order, count).

    Engine-neutral: links are given as uids, times as UTC ISO text, floats by ``repr``."""
    with read_connection(store.engine) as conn:
        names = dict(conn.execute(select(_R.c.id, _R.c.name)).all())
        rows = [dict(r._mapping) for r in conn.execute(select(_D))]
    uid_of = {r["id"]: r["uid"] for r in rows}
    digest = hashlib.sha256()
    count = 0
    for r in sorted(rows, key=lambda r: r["uid"]):
        if uids is not None and r["uid"] not in uids:
            continue
        canon = {}
        for k, v in sorted(r.items()):
            if k == "id":
                continue
            if k == "reviewer_id":
                k, v = "reviewer", names[v]
            elif k in ("replaces_id", "undoes_id"):
                v = uid_of.get(v) if v is not None else None
            elif isinstance(v, datetime):
                v = utc(v).isoformat()
            elif isinstance(v, float):
                v = repr(v)
            canon[k] = v
        digest.update(json.dumps(canon, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        count += 1
    return digest.hexdigest(), count


def _present(dst: Store, table: Table, src_rows_keys: list, key_cols: tuple) -> int:
    """How many of the source's keys exist in the target."""
    found = 0
    with read_connection(dst.engine) as conn:
        if len(key_cols) == 1:
            col = table.c[key_cols[0]]
            for group in chunks(src_rows_keys, BATCH):
                found += conn.execute(select(func.count()).select_from(table).where(col.in_(list(group)))).scalar_one()
        else:
            have = set(conn.execute(select(*[table.c[k] for k in key_cols])).all())
            found = sum(1 for k in src_rows_keys if tuple(k) in have)
    return found


def copy_database(src: Store, dst: Store, progress: Callable[[str], None] = lambda _m: None) -> CopyReport:
    """Copy everything from ``src`` into ``dst`` (idempotent) and verify it; see the module docstring."""
    report = CopyReport()
    from core.store.decisions import fill_missing_uids

    for store in (src, dst):  # events written around the app (by hand, an old salvage) get their uid first
        run_write(store.engine, fill_missing_uids)
    reviewer_map = _copy_simple(src, dst, report, progress)
    _copy_decisions(src, dst, reviewer_map, report)
    progress(f"decision: {report.tables['decision'].source}")

    with read_connection(src.engine) as conn:
        secret = conn.execute(select(_M.c.value).where(_M.c.key == "export_pseudonym_secret")).scalar()
        keys = {
            "image": [r for (r,) in conn.execute(select(_I.c.id))],
            "reviewer": [r for (r,) in conn.execute(select(_R.c.name))],
            "prediction": [tuple(r) for r in conn.execute(select(_P.c.image_id, _P.c.model_version))],
            "location": [r for (r,) in conn.execute(select(_L.c.path))],
            "scan_error": [r for (r,) in conn.execute(select(_E.c.path))],
            "decision": [r for (r,) in conn.execute(select(_D.c.uid))],
        }
    if secret is not None:
        if run_write(dst.engine, lambda c: insert_ignore(c, _M, {"key": "export_pseudonym_secret", "value": secret}, ["key"])):
            report.secret = "copied"
        else:
            with read_connection(dst.engine) as conn:
                theirs = conn.execute(select(_M.c.value).where(_M.c.key == "export_pseudonym_secret")).scalar()
            report.secret = "same" if theirs == secret else "target kept its own (export pseudonyms will differ)"

    for name, table, cols in (("image", _I, ("id",)), ("reviewer", _R, ("name",)),
                              ("prediction", _P, ("image_id", "model_version")), ("location", _L, ("path",)),
                              ("scan_error", _E, ("path",)), ("decision", _D, ("uid",))):
        count = report.tables[name]
        count.present = _present(dst, table, keys[name], cols)
        if count.present != count.source:
            report.problems.append(f"{name}: {count.source - count.present} of {count.source} rows missing in the target")
    uids = set(keys["decision"])
    report.source_digest, n_src = decision_digest(src)
    report.target_digest, n_dst = decision_digest(dst, uids)
    if n_dst != n_src:
        report.problems.append(f"decision: {n_src} events in the source, {n_dst} of them in the target")
    elif report.source_digest != report.target_digest:
        report.problems.append("decision: the copied events' content differs from the source's (checksum mismatch)")
    return report


__all__ = ["copy_database", "decision_digest", "CopyReport", "TableCount"]
