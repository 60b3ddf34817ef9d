"""``Store``: the label database's operations over an injected engine — scan results (images,
locations, predictions, per-file errors), decisions (append-only events, durable before returning)
and the read queries the worklist, export and import need.

Every write goes through ``core.store.engine.run_write`` (one transaction, the one place that
retries); every multi-query read through ``read_connection``. Writes are single-statement upserts
(``core.store.sqlbits``), never "look up, then insert", so two writers on PostgreSQL cannot race into
a unique-key violation; a decision locks its image row (``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``
serialises anyway), so two readers deciding one image at once form one chain, not a fork.
A ``Store`` may be shared between threads (each call takes its own pooled connection). The scan
results' rows and the image reads are written and queried by ``core.store.images``, decision events by
``core.store.deciding`` (reading them: ``core.store.decisions``), readers and claims by
``core.store.readers``; ``Store`` is their one interface.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine

from core.results import ImageMeta, ScanItem
from core.store import deciding as dk
from core.store import decisions as dec
from core.store import images as im
from core.store import model_events as mev
from core.store.decisions import Decision
from core.store.engine import describe, read_connection, run_write
from core.store.errors import StoreError
from core.store.images import ErrorRow, ImageRow
from core.store.sqlbits import insert_ignore, name_key, path_from_key, path_key, under, upsert
from core.store import readers as rd
from core.store.model_events import ModelEventRow
from core.store.models import (
    ROLE_READER,
    ROLES,
    UNIT_STUDY,
    DecisionEvent,
    Image,
    Location,
    MetaValue,
    Prediction,
    Reviewer,
    ScanError,
)
from core.store import scope_events
from core.store.scope_events import ScopeMark

_I, _L, _E, _P = Image.__table__, Location.__table__, ScanError.__table__, Prediction.__table__
_R, _D, _M = Reviewer.__table__, DecisionEvent.__table__, MetaValue.__table__
_SECRET_KEY = "export_pseudonym_secret"


def _ids(value: Optional[str | Iterable[str]]) -> list[str]:
    """An image id or several (claims' ``release``) as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LabelledImage:
    """An image with a current decision, with what evaluation needs: the label and when it was made,
    the version and score the reader saw, body part/view/study where known, every stored score."""

    image_id: str
    label: str
    decided_at: datetime
    seen_version: Optional[str]
    seen_probability: Optional[float]
    body_part: Optional[str]
    view: Optional[str]
    study_uid: Optional[str]
    path: Optional[str]  # most recently seen location
    scores: dict  # model version -> probability
    # model versions whose scope gate put the image out of scope, unless a reader's "in scope after
    # all" mark is in force (those images carry no flag and their scores do not describe the model)
    out_of_scope: frozenset = frozenset()


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
        on_close, self.on_close = getattr(self, "on_close", None), None
        if on_close is not None:
            on_close()  # e.g. remember the file as checked after our own last checkpoint

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.close()

    # ------------------------------------------------------------------ scan results
    def record_scan_results(self, root: Path, items: list[ScanItem]) -> None:
        """Store one batch of scan results (images, locations, predictions, errors) in one transaction.

        A handful of statements per batch, not per file: each table gets one executemany of one
        single-statement upsert (``sqlbits.upsert_many``/``insert_ignore_many``) and the deletes go by
        500 paths. An unchanged file (REUSED) only has its location marked as seen now — its image,
        location and prediction are the rows the scan read it from — so a re-scan of 10,000 unchanged
        files is 40 batches of three statements, not 60,000 statements. The last result of a path in
        the batch is the one kept (a file scanned twice in one batch)."""
        if items:
            now = _now()
            run_write(self.engine, lambda conn: im.write_scan_results(conn, items, now))

    def clear_scan_errors(self, root: Path) -> None:
        """Forget the per-file errors under ``root`` (call when a new scan of it starts)."""
        run_write(self.engine, lambda conn: conn.execute(delete(_E).where(under(_E.c.path, root, conn.dialect.name))))

    def known_location(
        self, path: Path, size: int, mtime_ns: int, model_version: Optional[str]
    ) -> Optional[tuple[str, Optional[float], Optional[ImageMeta], Optional[str], Optional[str]]]:
        """(image id, probability for ``model_version`` or None, meta, scope, scope reason) if ``path`` is
        unchanged since it was stored (``known_locations`` for one file)."""
        return self.known_locations([(path, size, mtime_ns)], model_version).get(path_key(path))

    def known_locations(
        self, files: Iterable[tuple[Path, int, int]], model_version: Optional[str]
    ) -> dict[str, tuple[str, Optional[float], Optional[ImageMeta], Optional[str], Optional[str]]]:
        """The unchanged ones of ``files`` ((path, size, mtime_ns) each): stored path (``path_key``) →
        (image id, probability for ``model_version`` or None, meta, scope, scope reason). One query per
        500 files (location by its unique path, its image, the version's prediction), one connection:
        what a re-scan asks of every file it finds."""
        return im.known_locations(self.engine, files, model_version)

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
        reading_mode: Optional[str] = None,
        shown_ms: Optional[int] = None,
        uid: Optional[str] = None,
        study: Optional[str] = None,
        unit: Optional[str] = None,
        study_score: Optional[float] = None,
    ) -> Decision:
        """Append a decision event; returns only after it is committed (fsynced with synchronous=FULL).

        It replaces the reviewer's own current decision of the image (each reader has their own), is
        recorded with the reviewer's role, the reading mode (``aided`` default, ``blinded``), the time
        from showing the image (``shown_ms``) and on PostgreSQL the database user; the reviewer's claim
        on the image ends then or shortly after (``readers.hold_decided``). ``uid`` (32 hex): the
        caller's own id for this decision — a second call with the same uid returns the stored decision
        instead of adding one (an import re-run after a crash); by default a new random one. ``study``/``unit``/``study_score``: the
        image's study key, 'view' when decided as one view of a study (``core.studies``)."""
        args = dk.check_args(reviewer, label, reading_mode, shown_ms, unit)
        if uid is not None and (len(uid) != 32 or any(c not in "0123456789abcdef" for c in uid)):
            raise ValueError("a decision uid is 32 lower-case hex digits")
        uid = uid or uuid.uuid4().hex  # made once: a retried attempt whose first try did commit is recognised
        view = dict(image_id=image_id, model_version=model_version, probability=probability)

        def work(conn: Connection) -> Decision:
            return dk.decide(conn, view, uid=uid, note=note, study=study, study_score=study_score, batch=None, **args)

        return run_write(self.engine, work)

    def record_study_decision(
        self,
        views: list[tuple[str, Optional[str], Optional[float]]],
        reviewer: str,
        label: str,
        *,
        study: str,
        study_score: Optional[float] = None,
        reading_mode: Optional[str] = None,
        shown_ms: Optional[int] = None,
        note: Optional[str] = None,
    ) -> list[Decision]:
        """One decision on a whole study: a 'decide' event per view ``(image id, model version,
        probability shown)``, all in one transaction, each with the study key, unit 'study', the study
        score and one shared ``batch`` uid (``undo_last`` undoes them together). Durable on return."""
        if not views:
            raise ValueError("a study decision needs at least one view")
        args = dk.check_args(reviewer, label, reading_mode, shown_ms, UNIT_STUDY)
        batch = uuid.uuid4().hex
        uids = [uuid.uuid4().hex for _ in views]
        rows = [dict(image_id=i, model_version=v, probability=p) for i, v, p in views]

        def work(conn: Connection) -> list[Decision]:
            return [dk.decide(conn, view, uid=u, note=note, study=study, study_score=study_score, batch=batch, **args)
                    for view, u in zip(rows, uids)]

        return run_write(self.engine, work)

    def undo_last(self, reviewer: str) -> Optional[Decision]:
        """Undo the reviewer's latest decision that is not undone yet, as an 'undo' event (None: nothing to undo)."""
        reviewer = (reviewer or "").strip()
        now = _now()
        uid = uuid.uuid4().hex

        return run_write(self.engine, lambda conn: dk.undo_step(conn, reviewer, uid, now))

    def redo_last(self, reviewer: str) -> Optional[Decision]:
        """Redo the reviewer's latest undo (``decisions.last_redoable_id``) as a new 'decide' event
        with the undone decision's label, note, model version and score, whose ``undoes`` is the undo
        event (None: nothing to redo). Like undo, it is read from the log, so it survives a restart.
        The undo of a study decision is redone as a whole: every view's undo of that step is decided
        again in the same transaction, keeping the study key, unit, study score and batch (so undo
        takes them back together again); the other views' redo events are in ``group``."""
        reviewer = (reviewer or "").strip()
        now = _now()
        uid = uuid.uuid4().hex

        return run_write(self.engine, lambda conn: dk.redo_step(conn, reviewer, uid, now))

    def mark_scope(self, image_id: str, reviewer: str, *, in_scope: bool = True, model_version: Optional[str] = None,
                   scope_reason: Optional[str] = None) -> ScopeMark:
        """Record that ``reviewer`` says the image is in scope after all (``in_scope``), or withdraws
        that; returns after the event is committed. The next gate fit reads these from exports."""
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise ValueError("a reviewer name is required to mark an image in scope")
        now = _now()

        def work(conn: Connection) -> ScopeMark:
            if conn.execute(select(_I.c.id).where(_I.c.id == image_id)).first() is None:
                raise StoreError(f"image {image_id[:12]}… is not in the database (scan its folder first)", "unknown_image")
            rid = dk.reviewer_id(conn, reviewer, now)
            return scope_events.add(conn, image_id, rid, in_scope, now, model_version, scope_reason)

        return run_write(self.engine, work)

    def scope_marks(self, image_ids: Optional[Iterable[str]] = None) -> dict[str, ScopeMark]:
        """image id → the "in scope after all" mark in force (latest event), for marked images only."""
        with read_connection(self.engine) as conn:
            return scope_events.in_force(conn, image_ids)

    def current_labels(self, image_ids: Optional[Iterable[str]] = None, reader: Optional[str] = None) -> dict[str, Decision]:
        """image id → its current decision: the latest of anyone, or only ``reader``'s own (images
        without one are absent)."""
        with read_connection(self.engine) as conn:
            return dec.current_labels(conn, image_ids, reader)

    def labels_by_reader(self, image_ids: Optional[Iterable[str]] = None) -> dict[str, dict[str, Decision]]:
        """image id → reader → that reader's current decision (adjudications included, role 'adjudicator')."""
        with read_connection(self.engine) as conn:
            return dec.labels_by_reader(conn, image_ids)

    def reference_labels(self, image_ids: Optional[Iterable[str]] = None) -> dict[str, "rd.Reference"]:
        """image id → its reference label (adjudication, or the readers' agreement; see ``readers``),
        for every image with at least one reading."""
        return {img: rd.reference_of(labels) for img, labels in self.labels_by_reader(image_ids).items()}

    # ------------------------------------------------------------------ readers and claims
    def set_reader(self, name: str, role: str = ROLE_READER) -> None:
        """Create the reader, or change their role ('reader' or 'adjudicator')."""
        name = (name or "").strip()
        if not name:
            raise ValueError("a reader needs a name or initials")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        now = _now()
        run_write(self.engine, lambda conn: upsert(conn, _R, dict(name=name, role=role, created_at=now), ["name"], ["role"]))

    def readers(self) -> list[tuple[str, str]]:
        """(name, role) of every reader, by name."""
        with read_connection(self.engine) as conn:
            return [(n, r) for n, r in conn.execute(select(_R.c.name, _R.c.role).order_by(_R.c.name))]

    def claim(self, reader: str, image_id: str, ttl_s: float = rd.CLAIM_TTL_S,
              release: Optional[str | Iterable[str]] = None) -> bool:
        """Claim an image for ``reader`` (renews their own claim); False if another reader holds it.
        ``release``: an image (or several) whose claim the reader lets go of in the same transaction (moving on)."""
        return self._as_claimer(reader, release, {image_id},
                                lambda conn, rid, now: rd.take_claim(conn, image_id, rid, now, ttl_s))

    def claim_next(self, reader: str, candidates: Iterable[str], ttl_s: float = rd.CLAIM_TTL_S,
                   release: Optional[str | Iterable[str]] = None) -> Optional[str]:
        """The first of ``candidates`` (in order: the review order) that nobody else holds, claimed for
        ``reader`` in one transaction (``readers.claim_first``: ``SELECT … FOR UPDATE SKIP LOCKED`` on
        PostgreSQL); None when all are held. Two readers asking at once get different images, neither
        waiting for the other. ``release``: images the reader lets go of in the same transaction."""
        ids = list(candidates)
        return self._as_claimer(reader, release, set(),
                                lambda conn, rid, now: rd.claim_first(conn, ids, rid, now, ttl_s))

    def claim_all(self, reader: str, image_ids: Iterable[str], ttl_s: float = rd.CLAIM_TTL_S,
                  release: Optional[str | Iterable[str]] = None) -> set[str]:
        """Claim all of ``image_ids`` (a study's views, decided as a whole) for ``reader``, or none:
        returns those another reader holds (empty: all claimed, or renewed). ``release``: images the
        reader lets go of in the same transaction (kept when they are among ``image_ids``)."""
        ids = list(image_ids)
        return self._as_claimer(reader, release, set(ids),
                                lambda conn, rid, now: rd.claim_all(conn, ids, rid, now, ttl_s))

    def _as_claimer(self, reader: str, release: Optional[str | Iterable[str]], keep: set, take):
        """One claim transaction: the reader's row, their ``release`` let go of (except ``keep``), then
        ``take(conn, reader_id, now)``."""
        now = _now()
        let_go = [i for i in _ids(release) if i not in keep]

        def work(conn: Connection):
            rid = dk.reviewer_id(conn, reader.strip(), now)
            for other in let_go:
                rd.release_claim(conn, other, rid)
            return take(conn, rid, now)

        return run_write(self.engine, work)

    def release(self, reader: str, image_id: str | Iterable[str]) -> None:
        """Let go of the reader's claim on the image (or images), except the short hold after a decision."""
        ids = _ids(image_id)

        def work(conn: Connection) -> None:
            rid = conn.execute(select(_R.c.id).where(_R.c.name == reader.strip())).scalar()
            if rid is not None:
                for i in ids:
                    rd.release_claim(conn, i, rid)

        run_write(self.engine, work)

    def claimed_by_others(self, reader: Optional[str], image_ids: Optional[Iterable[str]]) -> set[str]:
        """Which of ``image_ids`` (None: any image) another reader has open right now (unexpired claims)."""
        with read_connection(self.engine) as conn:
            rid = None if reader is None else conn.execute(select(_R.c.id).where(_R.c.name == reader.strip())).scalar()
            return rd.claimed_by_others(conn, rid, image_ids, _now())

    def double_reading(self) -> bool:
        """The clinic's reading policy kept in this database: every image read twice (see ``core.reading``)."""
        with read_connection(self.engine) as conn:
            return rd.double_reading(conn)

    def set_double_reading(self, on: bool) -> None:
        run_write(self.engine, lambda conn: rd.set_double_reading(conn, bool(on)))

    def last_event_id(self) -> int:
        """The newest decision event's id (0: none): where live updates start."""
        with read_connection(self.engine) as conn:
            return rd.last_event_id(conn)

    def decided_since(self, event_id: int) -> tuple[list[str], int]:
        """(images with decision events newer than ``event_id``, the newest event id)."""
        with read_connection(self.engine) as conn:
            return rd.decided_since(conn, event_id)

    def decision_history(self, image_id: str) -> list[Decision]:
        """Every event of one image, oldest first (the audit trail)."""
        with read_connection(self.engine) as conn:
            return dec.events(conn, [image_id])

    def all_decisions(self) -> list[Decision]:
        with read_connection(self.engine) as conn:
            return dec.events(conn)

    def reviewers(self) -> list[str]:
        """Every reviewer's name (readers and adjudicators), by name."""
        with read_connection(self.engine) as conn:
            return [r for (r,) in conn.execute(select(_R.c.name).order_by(_R.c.name))]

    # ------------------------------------------------------------------ model events, evaluation
    def record_model_event(self, kind: str, model_name: str, model_version: str, actor: str, *,
                           suspicious: Optional[float] = None, definite: Optional[float] = None,
                           basis: Optional[dict] = None) -> ModelEventRow:
        """Append a calibration / revert / activation event (see ``core.store.model_events``)."""
        now = _now()
        return run_write(self.engine, lambda conn: mev.insert_event(
            conn, kind=kind, model_name=model_name, model_version=model_version, actor=actor, created_at=now,
            suspicious=suspicious, definite=definite, basis=basis))

    def model_events(self, model_version: Optional[str] = None, kinds: Optional[Iterable[str]] = None) -> list[ModelEventRow]:
        with read_connection(self.engine) as conn:
            return mev.events(conn, model_version=model_version, kinds=kinds)

    def latest_model_event(self, kinds: Iterable[str], model_version: Optional[str] = None) -> Optional[ModelEventRow]:
        with read_connection(self.engine) as conn:
            return mev.latest(conn, kinds=kinds, model_version=model_version)

    def labelled_images(self) -> list[LabelledImage]:
        """Every image with a current decision (any label), with its stored scores of every version."""
        with read_connection(self.engine) as conn:
            current = dec.current_labels(conn)
            if not current:
                return []
            ids = list(current)
            info: dict = {}
            scores: dict[str, dict] = {i: {} for i in ids}
            paths: dict[str, str] = {}
            gated: dict[str, set] = {}
            marks: dict[str, ScopeMark] = {}
            for k in range(0, len(ids), 500):
                chunk = ids[k : k + 500]
                for r in conn.execute(select(_I.c.id, _I.c.body_part, _I.c.view_position, _I.c.study_uid)
                                      .where(_I.c.id.in_(chunk))):
                    info[r.id] = r
                for r in conn.execute(select(_P.c.image_id, _P.c.model_version, _P.c.probability, _P.c.scope)
                                      .where(_P.c.image_id.in_(chunk)).order_by(_P.c.created_at, _P.c.id)):
                    scores[r.image_id][r.model_version] = r.probability
                    if r.scope == "out_of_scope":
                        gated.setdefault(r.image_id, set()).add(r.model_version)
                marks.update(scope_events.in_force(conn, chunk))
                for r in conn.execute(select(_L.c.image_id, _L.c.path).where(_L.c.image_id.in_(chunk))
                                      .order_by(_L.c.last_seen, _L.c.id)):
                    paths[r.image_id] = path_from_key(r.path)
        out = []
        for i in ids:
            d, r = current[i], info.get(i)
            out.append(LabelledImage(
                image_id=i, label=d.label, decided_at=d.decided_at, seen_version=d.model_version,
                seen_probability=d.probability, body_part=r.body_part if r else None,
                view=r.view_position if r else None, study_uid=r.study_uid if r else None,
                path=paths.get(i), scores=scores[i],
                out_of_scope=frozenset() if (i in marks and marks[i].in_scope) else frozenset(gated.get(i, ()))))
        return out

    def record_predictions(self, model_version: str, probabilities: dict[str, float]) -> int:
        """Store scores of ``model_version`` for known images (kept if that version already scored
        one); returns how many rows were added. Used to keep a candidate model's scores."""
        now = _now()

        def work(conn: Connection) -> int:
            added = 0
            for image_id, p in probabilities.items():
                have = conn.execute(select(_P.c.id).where(_P.c.image_id == image_id,
                                                          _P.c.model_version == model_version)).first()
                if have is None and conn.execute(select(_I.c.id).where(_I.c.id == image_id)).first() is not None:
                    conn.execute(insert(_P).values(image_id=image_id, model_version=model_version,
                                                   probability=float(p), created_at=now))
                    added += 1
            return added

        return run_write(self.engine, work)

    # ------------------------------------------------------------------ reads for worklist/export/import
    def image_rows(
        self, root: Optional[Path] = None, model_version: Optional[str] = None, image_ids: Optional[Iterable[str]] = None
    ) -> list[ImageRow]:
        """Images (with a location under ``root``, or all), each with its latest location and its
        probability for ``model_version`` (None: the most recent prediction of any version), ordered
        by path. One query (per 500 ``image_ids``): the latest location and prediction are picked by
        ``ROW_NUMBER()`` in SQL."""
        return im.image_rows(self.engine, root, model_version, image_ids)

    def error_rows(self, root: Optional[Path] = None) -> list[ErrorRow]:
        return im.error_rows(self.engine, root)

    def images_at(self, path: Path) -> set[str]:
        """Image ids stored for exactly this path."""
        return im.image_ids(self.engine, _L.c.path == path_key(path))

    def images_named(self, name: str) -> set[str]:
        """Image ids of every stored location with this file name (any folder)."""
        return im.image_ids(self.engine, _L.c.name == name_key(name))

    def paths_of(self, image_id: str) -> list[str]:
        """The image's known locations, most recently seen first."""
        return im.paths_of(self.engine, image_id)

    def pseudonym_secret(self) -> bytes:
        """A random per-database secret for export pseudonyms (created on first use, never exported)."""

        def work(conn: Connection) -> str:
            insert_ignore(conn, _M, dict(key=_SECRET_KEY, value=secrets.token_hex(32)), ["key"])
            return conn.execute(select(_M.c.value).where(_M.c.key == _SECRET_KEY)).scalar_one()

        with read_connection(self.engine) as conn:
            value = conn.execute(select(_M.c.value).where(_M.c.key == _SECRET_KEY)).scalar()
        if value is None:
            value = run_write(self.engine, work)
        return bytes.fromhex(value)
