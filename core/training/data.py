"""Labelled image listings for training and evaluation, from either source the issue names:

* a FracAtlas folder: ``dataset.csv`` (label column ``fractured``) + ``images/``; groups are blocks of
  ten consecutive image ids (``id // 10``); body part / hardware / view columns kept as metadata, and
  the fracture boxes of ``fracture_boxes_coco.json`` when it is there (box-supervised training);
* an app export in ImageFolder layout (``fracture/``, ``no_fracture/``; ``doubt/`` and anything else
  ignored), optionally with the export's ``labels.csv``; the groups are its ``study`` column (the
  pseudonymous study key, ``core.studies``: the views of one study stay on one side of every split);
  an image without one (an export made before studies, or no ``labels.csv``) is its own group.

Several folders can be combined (``combine``), e.g. a clinic's export mixed with FracAtlas.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.training.boxes import BOXES_FILE, load_coco_boxes
from core.training.cv import fracatlas_groups

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".dcm", ".dicom", ""}
CLASS_DIRS = {"fracture": 1, "no_fracture": 0}
META_COLUMNS = ("hand", "leg", "hip", "shoulder", "mixed", "hardware", "multiscan", "frontal", "lateral", "oblique")


class DataError(Exception):
    """The folder is not a usable labelled dataset (message says why)."""


@dataclass
class Listing:
    """One labelled dataset: parallel arrays, one entry per image."""

    paths: list[Path]
    labels: np.ndarray  # int 0/1
    groups: np.ndarray  # int64, samples sharing a group never straddle a split
    ids: list[str]
    source: list[str]
    meta: dict[str, np.ndarray] = field(default_factory=dict)  # FracAtlas columns (NaN where unknown)
    # per image: None (unknown) or {"size": (w, h), "boxes": [(x0, y0, x1, y1) fractions]} (core.training.boxes)
    boxes: list | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, mask) -> "Listing":
        idx = np.flatnonzero(np.asarray(mask)) if np.asarray(mask).dtype == bool else np.asarray(mask)
        return Listing([self.paths[i] for i in idx], self.labels[idx], self.groups[idx], [self.ids[i] for i in idx],
                       [self.source[i] for i in idx], {k: v[idx] for k, v in self.meta.items()},
                       None if self.boxes is None else [self.boxes[i] for i in idx])

    def describe(self) -> dict:
        return {"images": len(self), "fractured": int(self.labels.sum()),
                "not_fractured": int(len(self) - self.labels.sum()), "groups": int(len(np.unique(self.groups))),
                "sources": sorted(set(self.source))}


def is_fracatlas(folder: Path) -> bool:
    return (folder / "dataset.csv").is_file() and (folder / "images").is_dir()


def is_export(folder: Path) -> bool:
    return any((folder / d).is_dir() for d in CLASS_DIRS)


def load_fracatlas(folder: Path) -> Listing:
    folder = Path(folder)
    with open(folder / "dataset.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "fractured" not in rows[0] or "image_id" not in rows[0]:
        raise DataError(f"{folder / 'dataset.csv'} has no image_id/fractured columns")
    rows = [r for r in rows if (folder / "images" / r["image_id"]).is_file()]
    if not rows:
        raise DataError(f"no images of {folder / 'dataset.csv'} found under {folder / 'images'}")
    ids = [r["image_id"] for r in rows]
    meta = {c: np.asarray([float(r.get(c) or "nan") for r in rows]) for c in META_COLUMNS if c in rows[0]}
    boxes = None
    if (folder / BOXES_FILE).is_file():
        coco = load_coco_boxes(folder / BOXES_FILE)
        boxes = [coco.get(i) for i in ids]
    return Listing([folder / "images" / i for i in ids], np.asarray([int(r["fractured"]) for r in rows]),
                   fracatlas_groups(ids), ids, ["fracatlas"] * len(ids), meta, boxes)


def load_export(folder: Path) -> Listing:
    folder = Path(folder)
    paths, labels = [], []
    for name, label in CLASS_DIRS.items():
        d = folder / name
        if not d.is_dir():
            continue
        for p in sorted(d.rglob("*")):
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(p)
                labels.append(label)
    if not paths:
        raise DataError(f"{folder} has no images under fracture/ or no_fracture/")
    ids = [str(p.relative_to(folder)) for p in paths]
    return Listing(paths, np.asarray(labels), export_groups(folder, ids), ids, ["export"] * len(paths))


def export_studies(folder: Path) -> dict[str, str]:
    """file (as in labels.csv, e.g. ``fracture/3f….png``) → its study key, from the export's labels.csv."""
    table = Path(folder) / "labels.csv"
    if not table.is_file():
        return {}
    with open(table, newline="", encoding="utf-8") as fh:
        return {r["file"]: r["study"] for r in csv.DictReader(fh) if r.get("file") and r.get("study")}


def export_groups(folder: Path, ids: list[str]) -> np.ndarray:
    """Cross-validation groups of an export's images: one per study key; an image without a key alone."""
    studies = export_studies(folder)
    codes: dict[str, int] = {}
    out = np.empty(len(ids), dtype=np.int64)
    for n, i in enumerate(ids):
        key = studies.get(Path(i).as_posix())
        key = f"study:{key}" if key else f"image:{i}"
        out[n] = codes.setdefault(key, len(codes))
    return out


def group_rule(listing: Listing) -> str:
    """How the listing's cross-validation groups were made, in words (for the card's protocol)."""
    rules = []
    if "fracatlas" in listing.source:
        rules.append("blocks of ten consecutive image ids (id // 10)")
    exported = np.asarray([s == "export" for s in listing.source], dtype=bool)
    if exported.any():
        shared = len(np.unique(listing.groups[exported])) < int(exported.sum())
        rules.append("the export's study column (pseudonymous study key)" if shared else "one group per image")
    if len(rules) == 2:
        rules = [f"FracAtlas: {rules[0]}", f"exports: {rules[1]}"]
    return "; ".join(rules) or "one group per image"


def load_folder(folder: Path) -> Listing:
    """FracAtlas folder or export folder, recognised by content."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no such folder: {folder}")
    if is_fracatlas(folder):
        return load_fracatlas(folder)
    if is_export(folder):
        return load_export(folder)
    raise DataError(f"{folder} is neither a FracAtlas folder (dataset.csv + images/) nor an export "
                    "(fracture/ and no_fracture/ subfolders)")


def combine(listings: list[Listing]) -> Listing:
    """Concatenate; group ids are offset so groups of different folders never coincide."""
    if len(listings) == 1:
        return listings[0]
    paths, labels, groups, ids, source, boxes = [], [], [], [], [], []
    offset = 0
    keys = set().union(*(lst.meta for lst in listings))
    meta: dict[str, list] = {k: [] for k in keys}
    for lst in listings:
        paths += lst.paths
        labels.append(lst.labels)
        groups.append(lst.groups - lst.groups.min() + offset)
        offset = int(groups[-1].max()) + 1
        ids += lst.ids
        source += lst.source
        boxes += lst.boxes if lst.boxes is not None else [None] * len(lst)
        for k in keys:
            meta[k].append(lst.meta.get(k, np.full(len(lst), np.nan)))
    return Listing(paths, np.concatenate(labels), np.concatenate(groups), ids, source,
                   {k: np.concatenate(v) for k, v in meta.items()},
                   boxes if any(b is not None for b in boxes) else None)
