"""Plain records passed between the scan pipeline, the store and the worklist (no logic, no I/O),
kept apart so those modules depend on this one and not on each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

# ScanItem.status values
SCORED = "scored"  # decoded and scored in this scan
REUSED = "reused"  # unchanged since an earlier scan (path, size, mtime): score taken from the store
DUPLICATE = "duplicate"  # same bytes as another file in this scan: one image, two locations
ERROR = "error"  # could not be read: see error / error_kind
STATUSES = (SCORED, REUSED, DUPLICATE, ERROR)

# A reviewer's decision labels (stored, exported, and the ImageFolder class names of an export)
LABELS = ("fracture", "no_fracture", "doubt")


@dataclass(frozen=True)
class DicomMeta:
    """Non-identifying DICOM attributes; the only DICOM header data ever stored or exported."""

    study_uid: Optional[str] = None
    series_uid: Optional[str] = None
    sop_uid: Optional[str] = None
    modality: Optional[str] = None
    body_part: Optional[str] = None
    view_position: Optional[str] = None


@dataclass(frozen=True)
class ImageMeta:
    width: int
    height: int
    format: str  # JPEG, PNG, TIFF, BMP, DICOM
    notes: tuple[str, ...] = ()  # e.g. "first page of 3 (multi-page TIFF)"
    dicom: Optional[DicomMeta] = None


@dataclass
class ScanItem:
    """What the scan learned about one file it found."""

    path: Path
    size: int
    mtime_ns: int
    status: str
    image_id: Optional[str] = None  # SHA-256 hex of the file's bytes
    probability: Optional[float] = None
    model_version: Optional[str] = None
    meta: Optional[ImageMeta] = None
    error: Optional[str] = None  # human-readable reason (status == ERROR)
    error_kind: Optional[str] = None  # FileError kind
    duplicate_of: Optional[Path] = None
    cam: Optional[np.ndarray] = field(default=None, repr=False)  # class-activation map, model-input space
    scope: Optional[str] = None  # 'in_scope' | 'out_of_scope' (core.scope); None when not assessed
    scope_reason: Optional[str] = None  # why out of scope, for clinicians (never patient data)
    scope_distance: Optional[float] = None  # content distance to the training images, when measured
