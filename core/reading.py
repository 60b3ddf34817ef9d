"""Who is reading, and how: the reading context (``Reading``) that the worklist, the review order and the
triage follow — THE one place for the rules of several readers on one worklist (Qt-free, no store).

* **Reader and role**: the name or initials recorded with every decision; role ``reader`` (reads
  images) or ``adjudicator`` (decides the reference label where readers disagree).
* **Mode**: ``aided`` (the model's probability, flag and heatmap are shown; the worklist is in
  probability order) or ``blinded`` (the model is hidden: no probability, no flag, no heatmap, no filter
  or sort that tells them, and a random order — stable per reader, so a reload keeps it). The mode is
  stored with every decision, so the clinic can compare unaided with aided reading.
* **Blinding between readers**: a reader never sees another reader's label — each row shows the
  reader's own label only (``labels_of``); an image another reader read is *settled* for them when
  no further reading is needed, and then leaves their "to review" list without its label being shown.
* **Double reading** (clinic-wide, kept in the database): every image is read by two readers
  independently; an image is settled for a reader once two readers read it (or it was adjudicated).
  Without double reading (the default), one reading per image is enough: readers share the work, and
  an image anyone read is settled for everyone else.
* **Adjudicator**: sees every reader's label (that is the job); their rows show their own adjudication
  and their "to review" list is the images where readers disagree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

READER, ADJUDICATOR = "reader", "adjudicator"  # core.store.models.ROLES
AIDED, BLINDED = "aided", "blinded"  # core.store.models.MODES
ROLES = (READER, ADJUDICATOR)
MODES = (AIDED, BLINDED)
ROLE_TITLES = {READER: "Reader", ADJUDICATOR: "Adjudicator"}
MODE_TITLES = {AIDED: "Aided (model shown)", BLINDED: "Blinded (model hidden)"}

MODEL_FILTERS = ("flagged", "disagreements")  # filters that tell the model's flag: not offered when blinded
MODEL_COLUMNS = ("probability", "flag")  # sort columns that tell the model's score


@dataclass(frozen=True)
class Reading:
    """The reading context of one session (see the module docstring)."""

    reader: str = ""
    role: str = READER
    mode: str = AIDED
    double_reading: bool = False

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.mode not in MODES:
            raise ValueError(f"reading mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        object.__setattr__(self, "reader", " ".join((self.reader or "").split()))

    @classmethod
    def from_store(cls, store, reader: str, mode: str = AIDED) -> "Reading":  # noqa: ANN001
        """The context for ``reader`` in ``mode``, with their role and the clinic's double-reading policy
        as the database (a ``core.store.Store``) records them. Reads the store: not on a GUI thread."""
        name = " ".join((reader or "").split())
        role = dict(store.readers()).get(name, READER) if name else READER
        return cls(name, role if role in ROLES else READER, mode if mode in MODES else AIDED, store.double_reading())

    @property
    def blinded(self) -> bool:
        return self.mode == BLINDED

    @property
    def adjudicator(self) -> bool:
        return self.role == ADJUDICATOR

    @property
    def own_labels(self) -> bool:
        """Rows show only this reader's own labels (always, once a reader is named)."""
        return bool(self.reader)

    @property
    def labels_of(self) -> Optional[str]:
        """Whose current labels the rows show: this reader's (``own_labels``), else None (anyone's latest)."""
        return self.reader if self.own_labels else None

    @property
    def sees_other_readers(self) -> bool:
        """May see other readers' labels of an image (adjudicators only)."""
        return self.adjudicator

    def settled(self, reading: Optional[str]) -> bool:
        """Nothing is left for this reader to do on an image without a label of their own, given the
        image's reading status among all readers (``core.store.readers``: single / agreed / disputed /
        adjudicated; None: unread). Only meaningful with ``own_labels`` (else the row's label decides)."""
        if not self.own_labels:
            return False
        if self.adjudicator:
            return reading != "disputed"
        if self.double_reading:
            return reading in ("agreed", "disputed", "adjudicated")
        return reading is not None

    def shuffle_key(self, image_id: str) -> float:
        """The blinded order's place of an image in [0, 1): random-looking, the same on every reload
        and workstation for one reader, different between readers."""
        digest = hashlib.sha256(f"{self.reader}\0{image_id}".encode()).digest()
        return int.from_bytes(digest[:7], "big") / float(1 << 56)

    def describe(self) -> str:
        """One line for the status bar: 'Dr A (adjudicator) · blinded · double reading'."""
        bits = [self.reader or "(no reader)"]
        if self.adjudicator:
            bits[0] += " (adjudicator)"
        if self.blinded:
            bits.append("blinded")
        if self.double_reading:
            bits.append("double reading")
        return " · ".join(bits)


__all__ = ["Reading", "READER", "ADJUDICATOR", "AIDED", "BLINDED", "ROLES", "MODES", "ROLE_TITLES", "MODE_TITLES",
           "MODEL_FILTERS", "MODEL_COLUMNS"]
