"""Bringing labels made elsewhere into the store (``fracture-triage import-labels``).

The CSV needs a header with a ``path`` column (absolute, or relative to the CSV's folder; a bare file
name is matched by name — ``file``, ``filename`` and ``name`` are accepted as the column's name too) and
a ``label`` column (``fracture`` / ``no_fracture`` / ``doubt``, also ``1`` = fracture and
``0`` = no_fracture; case and surrounding spaces ignored). Each row becomes a decision event by the
given reviewer for an image already in the database (scanned before). A row that matches no image, or
whose file name matches several different images, is reported and skipped — never guessed. A row
whose label is already this reviewer's own current label of the image is skipped as already recorded
(so importing a file twice adds nothing, also while other readers decide or import the same images:
on a shared database each reader has their own current label). One bad row never stops the others.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from core.store import Store

PATH_COLUMNS = ("path", "file", "filename", "file_name", "name")
LABEL_VALUES = {
    "fracture": "fracture",
    "1": "fracture",
    "no_fracture": "no_fracture",
    "0": "no_fracture",
    "doubt": "doubt",
}


class LabelImportError(Exception):
    """The CSV as a whole cannot be used (missing, unreadable, no usable header)."""


@dataclass
class ImportReport:
    imported: int = 0
    already: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (CSV line number, reason)

    @property
    def rows(self) -> int:
        return self.imported + self.already + len(self.skipped)


def _match(store: "Store", ref: str, base: Path) -> tuple[str | None, str]:
    """The image id a CSV path/name refers to, or (None, why not)."""
    p = Path(ref)
    bare = len(p.parts) == 1 and not p.is_absolute()
    candidates = [p] if p.is_absolute() else [base / p]
    for c in candidates:
        ids = store.images_at(c) or store.images_at(c.resolve())
        if ids:
            return next(iter(ids)), ""
    if not bare:
        return None, f"no scanned image at {ref}"
    ids = store.images_named(p.name)
    if not ids:
        return None, f"no scanned image named {p.name}"
    if len(ids) > 1:
        return None, f"{p.name} matches {len(ids)} different images; give its path instead"
    return next(iter(ids)), ""


def import_labels(store: "Store", csv_path: Path, reviewer: str) -> ImportReport:
    """Record one decision per usable row of ``csv_path`` by ``reviewer``; see the module docstring."""
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise LabelImportError("a reviewer name is required (--reviewer NAME)")
    csv_path = Path(csv_path)
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:  # newlines inside quoted fields kept as is
            text = fh.read()
    except FileNotFoundError:
        raise LabelImportError(f"{csv_path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelImportError(f"cannot read {csv_path}: {exc}") from None
    # the csv module splits records itself (quoted fields may hold newlines, U+2028, U+0085...);
    # str.splitlines() would cut such a field in two
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
    path_col = next((header[c] for c in PATH_COLUMNS if c in header), None)
    label_col = header.get("label")
    if path_col is None or label_col is None:
        raise LabelImportError(
            f"{csv_path} needs a header with a 'path' (or file name) column and a 'label' column; "
            f"found: {', '.join(reader.fieldnames or []) or 'no header'}"
        )
    base = csv_path.absolute().parent
    report = ImportReport()
    current = None
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a quoted field never closed: the rest of the file is one field
            report.skipped.append((reader.line_num, f"the CSV cannot be read from here on ({exc})"))
            break
        line = reader.line_num
        try:
            ref = (row.get(path_col) or "").strip()
            raw_label = (row.get(label_col) or "").strip().lower()
            if not ref:
                report.skipped.append((line, "empty path"))
                continue
            label = LABEL_VALUES.get(raw_label)
            if label is None:
                report.skipped.append((line, f"unknown label {raw_label!r} (use fracture, no_fracture, doubt, 1 or 0)"))
                continue
            image_id, why = _match(store, ref, base)
            if image_id is None:
                report.skipped.append((line, why))
                continue
            if current is None:
                current = store.current_labels(reader=reviewer)  # this reviewer's own, not anyone's latest
            now = current.get(image_id)
            if now is not None and now.label == label:
                report.already += 1
                continue
            current[image_id] = store.record_decision(
                image_id, reviewer, label, note=f"imported from {csv_path.name} line {line}"
            )
            report.imported += 1
        except Exception as exc:  # one bad row never stops the rest
            report.skipped.append((line, f"{type(exc).__name__}: {exc}"))
    return report
