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


def model_card_lines(section: Optional[dict]) -> list[str]:
    """Markdown for a model card's "Scope gate" section (the training report includes it): what the
    gate does, what it does not catch, and the fitted figures of ``section`` (``scope.content``)."""
    lines = [
        "## Scope gate",
        "",
        "Every scored image gets a verdict, in_scope or out_of_scope with a reason; out-of-scope images are "
        "never flagged and are listed after the in-scope ones (README, \"What the model is for\").",
        "- DICOM tags: CR/DX/RG (and DR) radiographs are in scope; CT, MR, US, NM, PET, MG, dental, RF "
        "(fluoroscopy), XA (angiography), DXA and other non-projection modalities are out; body parts outside "
        "hand, arm, shoulder, hip, pelvis, leg and foot (chest, skull, spine, abdomen, breast ...) are out; unknown "
        "or empty tags never reject by themselves; multi-frame images are out.",
        "- Colour (> 5% clearly coloured pixels), size (< 64 px a side), nearly blank, mostly white (documents), "
        "truncated files missing > 20% of their rows.",
    ]
    if section is None:
        lines.append("- No content statistics: images without tags are not compared with the training images.")
    else:
        lines.append(
            f"- Image content: PCA-Mahalanobis distance of the {section.get('dim')}-feature `embedding` to the "
            f"training images ({section.get('components')} principal directions plus residual), threshold "
            f"{float(section['threshold']):.4g} chosen on out-of-fold embeddings so that at most "
            f"{float(section.get('max_gated', 0.02)):.0%} of in-scope images are gated: "
            f"{float(section.get('oof_gated', float('nan'))):.1%} of {section.get('oof_images')} out-of-fold "
            "FracAtlas images are gated.")
    lines += [
        "- Not caught: children's radiographs; body parts that look alike (forearm, foot, elbow without tags); "
        "tag-free radiographs of other body parts that the embedding finds close to the training images; "
        "greyscale photographs of films. A reader can mark an image \"in scope after all\" (recorded; the next "
        "gate fit counts it as in scope).",
    ]
    return lines
