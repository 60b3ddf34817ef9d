"""The scope verdict record and how the three kinds of evidence are combined into one verdict.

Order (the first that decides wins): DICOM tags (modality, body part, descriptions, multi-frame) →
colour → quality (too small, nearly blank, incomplete) → image content (embedding distance, only when
the model card has a ``scope.content`` section and the tags have not already placed the image in
scope). Unknown or missing tags never reject an image by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

IN_SCOPE = "in_scope"
OUT_OF_SCOPE = "out_of_scope"
SCOPES = (IN_SCOPE, OUT_OF_SCOPE)

# Verdict.kind values: which evidence decided
KIND_MODALITY = "modality"
KIND_BODY_PART = "body_part"
KIND_MULTI_FRAME = "multi_frame"
KIND_COLOUR = "colour"
KIND_QUALITY = "quality"
KIND_CONTENT = "content"
KIND_TAGS_IN = "tags"  # the tags say radiograph of an in-scope body part
KIND_NONE = "none"  # nothing against it


@dataclass(frozen=True)
class Verdict:
    scope: str  # IN_SCOPE | OUT_OF_SCOPE
    reason: Optional[str] = None  # for OUT_OF_SCOPE: short, clinician-readable, never patient data
    kind: str = KIND_NONE
    settled: bool = False  # True: the content check must not change it (tags decided, or already out)
    distance: Optional[float] = None  # content distance when it was measured

    @property
    def out_of_scope(self) -> bool:
        return self.scope == OUT_OF_SCOPE


def out(reason: str, kind: str) -> Verdict:
    return Verdict(OUT_OF_SCOPE, reason, kind, settled=True)


IN = Verdict(IN_SCOPE)
TAGS_IN = Verdict(IN_SCOPE, None, KIND_TAGS_IN, settled=True)

CONTENT_REASON = "unlike the training images (image content)"


def with_content(pre: Verdict, distance: Optional[float], threshold: Optional[float]) -> Verdict:
    """Add the content check's result to a verdict from tags/colour/quality."""
    if distance is None or threshold is None:
        return pre
    d = float(distance)
    if pre.settled:
        return Verdict(pre.scope, pre.reason, pre.kind, pre.settled, d)
    if not d <= float(threshold):  # NaN/inf (a broken embedding) counts as far away
        return Verdict(OUT_OF_SCOPE, CONTENT_REASON, KIND_CONTENT, True, d)
    return Verdict(IN_SCOPE, None, pre.kind, pre.settled, d)
