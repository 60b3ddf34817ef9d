"""The active operating points — THE place that decides which thresholds flag an image — and their
recalibration on the clinic's own labels.

``active_thresholds(store, card)``: the thresholds of the latest 'calibrate' event for the card's model
version, unless a later 'revert' event put the card's back; without a store (``scan --no-store``) or
events, the card's. The worklist (flags, filters, disagreement queue), export (``model_flag``,
``agrees_with_model``), the scan summary and CSV (``flag``), ``performance`` and ``info`` all ask here.

``propose(...)`` fits both thresholds on the confirmed labels with the card's own rule
(``core.evaluation.metrics.choose_thresholds`` with its margin rule: the same function training uses
for the card; bootstrap groups are the studies where known), and says
what they rest on and what share of the folder's images they would flag; ``apply`` / ``revert``
record the change as a model event (who, when, based on what). Nothing is ever edited in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Optional

import numpy as np

from core.evaluation import labelled as L
from core.evaluation import metrics as M
from core.model.card import Thresholds

if TYPE_CHECKING:  # pragma: no cover
    from core.model.card import ModelCard
    from core.store import ModelEventRow, Store

THRESHOLD_KINDS = ("calibrate", "revert")


class CalibrationError(Exception):
    """A calibration that cannot be made (too few labels, no scores); ``str()`` says why."""


@dataclass(frozen=True)
class ActiveThresholds:
    thresholds: Thresholds
    model_name: str
    model_version: str
    card_thresholds: Thresholds
    event: Optional["ModelEventRow"] = None  # the calibration in force (None: the card's)
    note: str = ""  # e.g. why the database could not be asked

    @property
    def calibrated(self) -> bool:
        return self.event is not None

    @property
    def source(self) -> str:
        return "calibration" if self.calibrated else "card"

    def flag(self, p: Optional[float]) -> Optional[str]:
        return self.thresholds.flag(p)

    def describe(self) -> str:
        t = self.thresholds
        head = f"suspicious >= {t.suspicious:.6g}, definite >= {t.definite:.6g}"
        if self.event is None:
            return f"{head} (the model card's{'; ' + self.note if self.note else ''})"
        e = self.event
        n = e.basis.get("counts", {})
        return (f"{head} (calibration #{e.id} on this clinic's labels by {e.actor}, "
                f"{e.created_at:%Y-%m-%d %H:%M} UTC, from {n.get('fracture', '?')} fractures and "
                f"{n.get('no_fracture', '?')} non-fractures)")

    def as_dict(self) -> dict:
        return {"suspicious": self.thresholds.suspicious, "definite": self.thresholds.definite,
                "source": self.source, "calibration_event": None if self.event is None else self.event.id,
                "card": {"suspicious": self.card_thresholds.suspicious, "definite": self.card_thresholds.definite}}


def active_thresholds(store: Optional["Store"], card: "ModelCard") -> ActiveThresholds:
    """See the module docstring. A database that cannot be read never stops flagging: the card's
    thresholds are used and ``note`` says why."""
    base = ActiveThresholds(card.thresholds, card.name, card.version, card.thresholds)
    if store is None:
        return base
    try:
        event = store.latest_model_event(THRESHOLD_KINDS, card.version)
    except Exception as exc:  # noqa: BLE001 - StoreError or a driver error
        return ActiveThresholds(card.thresholds, card.name, card.version, card.thresholds,
                                note=f"calibrations could not be read: {exc}")
    if event is None or event.kind != "calibrate":
        return base
    return ActiveThresholds(Thresholds(float(event.suspicious), float(event.definite)), card.name, card.version,
                            card.thresholds, event)


@dataclass(frozen=True)
class Proposal:
    model_name: str
    model_version: str
    thresholds: Optional[Thresholds]  # None when there are not enough labels
    current: ActiveThresholds
    counts: dict
    enough: bool
    message: str
    in_sample: dict  # sensitivity/specificity of the proposal on the labels it was fitted on
    flagged_share: dict  # {"proposed": share, "current": share, "images": n} over every scored image
    since: Optional[str] = None
    rule: str = M.MARGIN_RULE

    def basis(self) -> dict:
        return {"counts": self.counts, "in_sample": self.in_sample, "flagged_share": self.flagged_share,
                "rule": self.rule,
                "since": self.since}

    def as_dict(self) -> dict:
        return {"model": {"name": self.model_name, "version": self.model_version},
                "proposed": None if self.thresholds is None else
                {"suspicious": self.thresholds.suspicious, "definite": self.thresholds.definite},
                "current": self.current.as_dict(), "enough_labels": self.enough, "message": self.message,
                **self.basis()}


def _share(p: np.ndarray, t: float) -> Optional[float]:
    return None if len(p) == 0 else round(float(np.mean(p >= t)), 4)


def propose(store: "Store", card: "ModelCard", since: Optional[datetime] = None) -> Proposal:
    """Thresholds fitted on the confirmed labels (see the module docstring); never writes."""
    data = L.build(store.labelled_images(), card.version, since)
    current = active_thresholds(store, card)
    scored = np.asarray([r.probability for r in store.image_rows(model_version=card.version)
                         if r.probability is not None], dtype=float)
    counts = data.counts()
    since_text = since.date().isoformat() if since else None
    if not L.enough(data.y):
        return Proposal(card.name, card.version, None, current, counts, False, L.not_enough_message(data.y), {},
                        {"images": int(len(scored))}, since_text)
    th = M.choose_thresholds(data.y, data.p, data.groups)
    t_s, t_d = float(th["suspicious"]), float(th["definite"])
    prop = Thresholds(t_s, max(t_d, t_s))  # exact: rounding could drop the lowest fracture below it
    s_pt, d_pt = M.at_threshold(data.y, data.p, prop.suspicious), M.at_threshold(data.y, data.p, prop.definite)
    in_sample = {"suspicious": {"sensitivity": round(s_pt["sensitivity"], 4), "specificity": round(s_pt["specificity"], 4)},
                 "definite": {"sensitivity": round(d_pt["sensitivity"], 4), "specificity": round(d_pt["specificity"], 4)}}
    cur = current.thresholds
    share = {"images": int(len(scored)),
             "proposed": {"suspicious_or_definite": _share(scored, prop.suspicious), "definite": _share(scored, prop.definite)},
             "current": {"suspicious_or_definite": _share(scored, cur.suspicious), "definite": _share(scored, cur.definite)}}
    msg = (f"fitted on {data.fractures} fractures and {data.non_fractures} non-fractures confirmed here: "
           f"suspicious >= {prop.suspicious:.6g} (now {cur.suspicious:.6g}), definite >= {prop.definite:.6g} "
           f"(now {cur.definite:.6g})")
    return Proposal(card.name, card.version, prop, current, counts, True, msg, in_sample, share, since_text, th["rule"])


def apply(store: "Store", proposal: Proposal, actor: str) -> "ModelEventRow":
    """Make a proposal the active thresholds of its model version (a 'calibrate' event)."""
    if not proposal.enough or proposal.thresholds is None:
        raise CalibrationError(f"cannot calibrate {proposal.model_name} {proposal.model_version}: {proposal.message}")
    t = proposal.thresholds
    return store.record_model_event("calibrate", proposal.model_name, proposal.model_version, actor,
                                    suspicious=t.suspicious, definite=t.definite, basis=proposal.basis())


def revert(store: "Store", card: "ModelCard", actor: str) -> "ModelEventRow":
    """Put the card's thresholds back in force for the card's version (a 'revert' event)."""
    t = card.thresholds
    return store.record_model_event("revert", card.name, card.version, actor,
                                    basis={"card": {"suspicious": t.suspicious, "definite": t.definite}})
