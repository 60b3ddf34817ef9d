"""Several readers on one database: the reference label of an image, the reading-status filters, and
claims (an image a reader has open, so another reader's "next" skips it until the claim expires).

Reference label (``reference_of``), from each reader's current label of the image:
- an adjudicator's current label, when there is one → source ``adjudicated``;
- else all readers gave the same label → ``agreed`` (two or more readers) or ``single`` (one);
- else ``disputed`` (label None: readers disagree, the adjudication queue); no reading → ``unread``.

Claims are taken with one conditional upsert (``INSERT … ON CONFLICT (image_id) DO UPDATE … WHERE the
claim expired or is mine RETURNING``), atomic on SQLite and PostgreSQL alike: of two readers asking for
the same image at once exactly one gets it. "The next unclaimed image in the review order"
(``claim_first``) is one ``SELECT … FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL, so two readers opening
the top of the list at once get different images without waiting on each other. The desktop renews a claim while the image stays open and
lets go of it when the reader moves on or closes; a claim left behind by a crashed workstation simply
expires (``CLAIM_TTL_S``). A decision that leaves nothing for other readers to do on the image does
not let go at once: it shortens the reader's claim to ``DECIDED_HOLD_S`` (``hold_decided``), which letting go
leaves alone — long enough for the other readers' live updates (a poll every 2 s) to learn of the
decision before anyone else can open the image, so no reader reads an image someone decided a
moment ago by accident. (Under double reading the first reading lets go at once: the image is the
second reader's to read.)

Live updates (``decided_since``): the images with decision events newer than a given event id — one
range read on the primary key, cheap enough to poll every few seconds on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Optional, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from core.store.decisions import Decision
from core.store.models import ROLE_ADJUDICATOR, Claim, DecisionEvent, Image, MetaValue
from core.store.sqlbits import _insert, upsert

_C = Claim.__table__
_D = DecisionEvent.__table__
_M = MetaValue.__table__
CLAIM_TTL_S = 300.0
DECIDED_HOLD_S = 10.0  # > the desktop's 2-s live-update poll plus its delay (tests/benchmarks/bench_live.py: ≤ 2.1 s)

ADJUDICATED, AGREED, SINGLE, DISPUTED, UNREAD = "adjudicated", "agreed", "single", "disputed", "unread"


@dataclass(frozen=True)
class Reference:
    label: Optional[str]
    source: str  # adjudicated | agreed | single | disputed | unread
    readers: int  # readers (not adjudicators) with a current label


def reference_of(labels: Mapping[str, Decision]) -> Reference:
    """The reference label of one image from its readers' current labels (see the module docstring)."""
    adjudications = [d for d in labels.values() if d.role == ROLE_ADJUDICATOR]
    reads = [d for d in labels.values() if d.role != ROLE_ADJUDICATOR]
    if adjudications:
        return Reference(max(adjudications, key=lambda d: d.id).label, ADJUDICATED, len(reads))
    if not reads:
        return Reference(None, UNREAD, 0)
    distinct = {d.label for d in reads}
    if len(distinct) == 1:
        return Reference(reads[0].label, AGREED if len(reads) >= 2 else SINGLE, len(reads))
    return Reference(None, DISPUTED, len(reads))


def needs_second_read(labels: Mapping[str, Decision]) -> bool:
    """Read by exactly one reader and not adjudicated."""
    ref = reference_of(labels)
    return ref.source == SINGLE


def readers_disagree(labels: Mapping[str, Decision]) -> bool:
    return reference_of(labels).source == DISPUTED


def adjudicated(labels: Mapping[str, Decision]) -> bool:
    return reference_of(labels).source == ADJUDICATED


def agreement_inputs(by_image: Mapping[str, Mapping[str, Decision]]):  # noqa: ANN201
    """(reads, reference, reference source) for ``core.agreement.agreement_report`` from
    ``labels_by_reader`` (adjudicators' labels are references, not reads)."""
    from core.agreement import Read

    reads, reference, source = [], {}, {}
    for image_id, labels in by_image.items():
        ref = reference_of(labels)
        reference[image_id], source[image_id] = ref.label, ref.source
        for reader, d in labels.items():
            if d.role != ROLE_ADJUDICATOR:
                reads.append(Read(image_id, reader, d.label, d.reading_mode or "aided", d.shown_ms))
    return reads, reference, source


# ---------------------------------------------------------------------------- claims
def take_claim(conn: Connection, image_id: str, reviewer_id: int, now: datetime, ttl_s: float = CLAIM_TTL_S) -> bool:
    """Claim ``image_id`` for the reviewer until now + ttl (renewing their own claim); False when
    another reader holds an unexpired claim. One statement: race-free on both engines."""
    stmt = _insert(conn, _C).values(image_id=image_id, reviewer_id=reviewer_id, expires_at=now + timedelta(seconds=ttl_s))
    stmt = stmt.on_conflict_do_update(
        index_elements=["image_id"],
        set_={"reviewer_id": stmt.excluded.reviewer_id, "expires_at": stmt.excluded.expires_at},
        where=(_C.c.expires_at < now) | (_C.c.reviewer_id == reviewer_id),
    )
    return conn.execute(stmt.returning(_C.c.image_id)).first() is not None


NEXT_TRIES = 5  # claim_first: candidates a finished concurrent claim took meanwhile, tried past


def claim_first(conn: Connection, candidates: Sequence[str], reviewer_id: int, now: datetime,
                ttl_s: float = CLAIM_TTL_S) -> Optional[str]:
    """Claim the first of ``candidates`` (in their order: the review order) that no other reader
    holds, for the reviewer; None when every one is held.

    PostgreSQL: one ``SELECT … FOR NO KEY UPDATE OF image SKIP LOCKED LIMIT 1`` over the candidates
    with their positions (``unnest … WITH ORDINALITY``) picks the first image that is neither claimed
    by another reader nor locked by a concurrent claimer (or a decision being written on it), then the
    conditional upsert claims it; two readers asking at once lock different image rows and neither
    waits for the other. (``NO KEY UPDATE``, not ``UPDATE``: it does not block the key-share locks of
    other readers' decision inserts.) A claim committed between the two statements' snapshots makes
    the upsert refuse; that image is passed over and the next one tried (``NEXT_TRIES`` times).
    SQLite: ``BEGIN IMMEDIATE`` serialises writers anyway, so the candidates are simply tried in order
    inside the one transaction, a chunk at a time."""
    ids = list(dict.fromkeys(candidates))
    if not ids:
        return None
    if conn.dialect.name == "postgresql":
        return _claim_first_pg(conn, ids, reviewer_id, now, ttl_s)
    from core.store.sqlbits import chunks

    for group in chunks(ids):
        held = claimed_by_others(conn, reviewer_id, group, now)
        for image_id in group:
            if image_id not in held and take_claim(conn, image_id, reviewer_id, now, ttl_s):
                return image_id
    return None


def _claim_first_pg(conn: Connection, ids: list[str], reviewer_id: int, now: datetime, ttl_s: float) -> Optional[str]:
    from sqlalchemy import String, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    _I = Image.__table__
    cand = func.unnest(bindparam("ids", ids, type_=ARRAY(String))).table_valued(
        "image_id", with_ordinality="ord").render_derived(name="c")
    held = select(_C.c.image_id).where(_C.c.image_id == cand.c.image_id, _C.c.expires_at >= now,
                                       _C.c.reviewer_id != reviewer_id)
    passed: list[str] = []
    for _ in range(NEXT_TRIES):
        q = (select(_I.c.id).join(cand, cand.c.image_id == _I.c.id).where(~held.exists())
             .order_by(cand.c.ord).limit(1).with_for_update(of=_I, skip_locked=True, key_share=True))
        if passed:
            q = q.where(_I.c.id.not_in(passed))
        image_id = conn.execute(q).scalar()
        if image_id is None:
            return None
        if take_claim(conn, image_id, reviewer_id, now, ttl_s):
            return image_id
        passed.append(image_id)
    return None


def claim_all(conn: Connection, image_ids: Sequence[str], reviewer_id: int, now: datetime,
              ttl_s: float = CLAIM_TTL_S) -> set[str]:
    """Claim every one of ``image_ids`` (a study's views) for the reviewer, or none of them: returns
    the images another reader holds (empty: all claimed). On PostgreSQL the image rows are locked
    ``FOR NO KEY UPDATE SKIP LOCKED`` first, so a view a concurrent claimer is taking counts as held
    at once instead of being waited for; the claims are taken in a savepoint that is rolled back when
    any is refused."""
    ids = list(dict.fromkeys(image_ids))
    if not ids:
        return set()
    if conn.dialect.name == "postgresql":
        _I = Image.__table__
        got = set(conn.execute(select(_I.c.id).where(_I.c.id.in_(ids)).order_by(_I.c.id)
                               .with_for_update(skip_locked=True, key_share=True)).scalars())
        known = set(conn.execute(select(_I.c.id).where(_I.c.id.in_(ids))).scalars())
        if known - got:
            return known - got
    held = claimed_by_others(conn, reviewer_id, ids, now)
    if held:
        return held
    savepoint = conn.begin_nested()
    refused = {i for i in ids if not take_claim(conn, i, reviewer_id, now, ttl_s)}
    if refused:
        savepoint.rollback()
    else:
        savepoint.commit()
    return refused


def release_claim(conn: Connection, image_id: str, reviewer_id: int) -> None:
    """Let go of the reviewer's claim on the image — except the short hold after a decision
    (``hold_decided``), which only expires."""
    keep_after = datetime.now(timezone.utc) + timedelta(seconds=DECIDED_HOLD_S)
    conn.execute(delete(_C).where(_C.c.image_id == image_id, _C.c.reviewer_id == reviewer_id,
                                  _C.c.expires_at > keep_after))


def hold_decided(conn: Connection, image_id: str, reviewer_id: int, now: datetime) -> None:
    """The reviewer decided the image (the event is in this transaction). When no other reader needs
    it any more, their claim on it (if any) now ends ``DECIDED_HOLD_S`` from now; when it still needs
    a read — double reading, read once so far — the claim is let go at once for the second reader."""
    from core.store.decisions import labels_by_reader

    mine = (_C.c.image_id == image_id) & (_C.c.reviewer_id == reviewer_id)
    if conn.execute(select(_C.c.image_id).where(mine)).first() is None:
        return  # no claim (an import, a decision on an image someone else holds)
    source = reference_of(labels_by_reader(conn, [image_id]).get(image_id, {})).source
    if source == SINGLE and double_reading(conn):
        conn.execute(delete(_C).where(mine))
    else:
        conn.execute(update(_C).where(mine).values(expires_at=now + timedelta(seconds=DECIDED_HOLD_S)))


def claimed_by_others(conn: Connection, reviewer_id: Optional[int], image_ids: Optional[Iterable[str]],
                      now: datetime) -> set[str]:
    """Which images (of ``image_ids``, or all when None) another reader holds an unexpired claim on."""
    from core.store.sqlbits import chunks

    out: set[str] = set()
    base = select(_C.c.image_id).where(_C.c.expires_at >= now)
    if reviewer_id is not None:
        base = base.where(_C.c.reviewer_id != reviewer_id)
    if image_ids is None:
        return {r for (r,) in conn.execute(base)}
    for group in chunks(list(image_ids)):
        out.update(r for (r,) in conn.execute(base.where(_C.c.image_id.in_(list(group)))))
    return out


# ---------------------------------------------------------------------------- clinic-wide policy
DOUBLE_READING_KEY = "double_reading"


def double_reading(conn: Connection) -> bool:
    """Whether this database's clinic reads every image twice (``core.reading``); off by default."""
    value = conn.execute(select(_M.c.value).where(_M.c.key == DOUBLE_READING_KEY)).scalar()
    return value == "on"


def set_double_reading(conn: Connection, on: bool) -> None:
    upsert(conn, _M, dict(key=DOUBLE_READING_KEY, value="on" if on else "off"), ["key"], ["value"])


# ---------------------------------------------------------------------------- live updates
def last_event_id(conn: Connection) -> int:
    """The newest decision event's id (0: none yet)."""
    return int(conn.execute(select(func.max(_D.c.id))).scalar() or 0)


def decided_since(conn: Connection, event_id: int) -> tuple[list[str], int]:
    """(images with a decision or undo event newer than ``event_id``, the newest event id). One
    primary-key range read: what the worklist's live updates poll."""
    rows = conn.execute(select(_D.c.id, _D.c.image_id).where(_D.c.id > event_id).order_by(_D.c.id)).all()
    if not rows:
        return [], event_id
    return list(dict.fromkeys(r.image_id for r in rows)), int(rows[-1].id)


__all__ = ["Reference", "reference_of", "agreement_inputs", "needs_second_read", "readers_disagree", "adjudicated", "take_claim", "claim_first", "claim_all",
           "release_claim", "hold_decided", "claimed_by_others", "last_event_id", "decided_since", "double_reading", "set_double_reading", "CLAIM_TTL_S", "DECIDED_HOLD_S", "ADJUDICATED", "AGREED", "SINGLE", "DISPUTED",
           "UNREAD"]
