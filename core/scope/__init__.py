"""The scope gate: is this image what the model was made for (an adult radiograph of a hand, leg, hip,
shoulder or nearby joint), or should it be kept out of the ranking, with a reason a clinician reads?

Owns the verdict (``Verdict``: ``in_scope`` / ``out_of_scope`` + reason) and the three kinds of
evidence: DICOM tags (``core.scope.tags``), colour and quality (``core.scope.quality``), and the
model embedding's distance to the training images (``core.scope.content``, fitted by training and
stored in the model card as ``scope.content``). Qt-free, torch-free.

``assess(decoded)`` runs in the scan's decode threads (tags, colour, quality); ``Gate.finish`` adds
the content check once the model has produced the image's embedding.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from core.scope.content import ContentGateError, content_distance, fit_content_gate, load_section
from core.scope.quality import grey_stats, quality_verdict
from core.scope.tags import tag_verdict
from core.scope.verdict import (
    CONTENT_REASON,
    IN,
    IN_SCOPE,
    OUT_OF_SCOPE,
    SCOPES,
    Verdict,
    with_content,
)

__all__ = [
    "IN_SCOPE", "OUT_OF_SCOPE", "SCOPES", "Verdict", "assess", "Gate", "fit_content_gate", "content_distance",
    "ContentGateError", "CONTENT_REASON",
]


def assess(decoded) -> Verdict:
    """Tags, colour and quality verdict of a ``core.imaging.DecodedImage`` (no model needed)."""
    meta = decoded.meta
    dicom = meta.dicom if meta is not None else None
    if dicom is not None:
        tags = decoded.scope_tags or {}
        v = tag_verdict(modality=dicom.modality, body_part=dicom.body_part,
                        descriptions=tags.get("descriptions", ()), sop_class_name=tags.get("sop_class"),
                        frames=int(tags.get("frames", 1) or 1))
        if v is not None and v.out_of_scope:
            return v
    else:
        v = None
    q = quality_verdict(width=int(decoded.width), height=int(decoded.height), colour_share=decoded.colour_share,
                        missing_share=decoded.missing_share, stats=grey_stats(decoded.grey))
    if q is not None:
        return q
    return v if v is not None else IN


class Gate:
    """The gate for one model: its card's ``scope.content`` section (None for a model without one, e.g.
    triagenet 1.0.0: then only tags, colour and quality apply)."""

    def __init__(self, section: Optional[dict]) -> None:
        self.section = load_section(section) if section is not None else None

    @classmethod
    def for_card(cls, card: Any) -> "Gate":
        return cls(getattr(card, "scope_content", None))

    @property
    def has_content(self) -> bool:
        return self.section is not None

    @property
    def threshold(self) -> Optional[float]:
        return None if self.section is None else float(self.section["threshold"])

    def distances(self, embeddings: Optional[np.ndarray]) -> Optional[np.ndarray]:
        if self.section is None or embeddings is None:
            return None
        return content_distance(embeddings, self.section)

    def finish(self, pre: Verdict, distance: Optional[float]) -> Verdict:
        return with_content(pre, distance, self.threshold)

    def describe(self) -> str:
        """One line for ``info``, the About box and the scan summary."""
        if self.section is None:
            return ("scope gate: DICOM tags, colour and image quality (this model's card has no content "
                    "statistics, so images without tags are not checked against the training images)")
        return (f"scope gate: DICOM tags, colour, image quality and image content (distance threshold "
                f"{self.threshold:.3g} on {self.section['dim']}-feature embeddings)")
