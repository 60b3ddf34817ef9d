"""Several readers on one database: the reference label of an image, the reading-status filters, and
claims (an image a reader has open, so another reader's "next" skips it until the claim expires).

Reference label (``reference_of``), from each reader's current label of the image:
- an adjudicator's current label, when there is one → source ``adjudicated``;
- else all readers gave the same label → ``agreed`` (two or more readers) or ``single`` (one);
- else ``disputed`` (label None: readers disagree, the adjudication queue); no reading → ``unread``.

Claims are taken with one conditional upsert (``INSERT … ON CONFLICT (image_id) DO UPDATE … WHERE the
claim expired or is mine RETURNING``), atomic on SQLite and PostgreSQL alike: of two readers asking for
the same image at once exactly one gets it. A decision releases the reader's claim on that image.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Optional

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from core.store.decisions import Decision
from core.store.models import ROLE_ADJUDICATOR, Claim
from core.store.sqlbits import _insert

_C = Claim.__table__
CLAIM_TTL_S = 300.0

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


def release_claim(conn: Connection, image_id: str, reviewer_id: int) -> None:
    conn.execute(delete(_C).where(_C.c.image_id == image_id, _C.c.reviewer_id == reviewer_id))


def claimed_by_others(conn: Connection, reviewer_id: Optional[int], image_ids: Iterable[str], now: datetime) -> set[str]:
    from core.store.sqlbits import chunks

    out: set[str] = set()
    for group in chunks(list(image_ids)):
        q = select(_C.c.image_id).where(_C.c.image_id.in_(list(group)), _C.c.expires_at >= now)
        if reviewer_id is not None:
            q = q.where(_C.c.reviewer_id != reviewer_id)
        out.update(r for (r,) in conn.execute(q))
    return out


__all__ = ["Reference", "reference_of", "needs_second_read", "readers_disagree", "adjudicated", "take_claim",
           "release_claim", "claimed_by_others", "CLAIM_TTL_S", "ADJUDICATED", "AGREED", "SINGLE", "DISPUTED",
           "UNREAD"]
