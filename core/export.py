"""Export of the current labels for retraining: ``labels.csv``, ``labels.json``,
``labels_by_reader.csv`` and, optionally, the images in an ImageFolder layout (``fracture/``,
``no_fracture/``, ``doubt/``) that ``fracture-triage train --data`` reads directly.

``labels.csv`` has one row per image (its latest current decision, and its reference label: an
adjudication or the readers' agreement, empty where readers disagree); ``labels_by_reader.csv`` one
row per image and reader (each reader's current label, role, reading mode and time to decide).

Privacy: nothing derived from patient data leaves. Rows are keyed by a pseudonymous image id
(HMAC-SHA256 of the image's content hash with a random secret kept in the database, so ids are stable
across exports of one database and cannot be linked back to a file without it); reviewers' notes are
not exported (free text may name a patient); original paths and file names are not exported. Every
image is decoded with ``core.imaging.reader.read_image`` and re-encoded as an **8-bit greyscale PNG**
of the display image (DICOM: windowed with the file's VOI LUT/window, MONOCHROME1 inverted — the same
pixels the model scores; JPEG/PNG/TIFF/BMP: EXIF orientation applied). No DICOM header, EXIF, ICC
profile or PNG text chunk is written.

Each row carries the image's pseudonymous study key (``study``, ``core.studies``: the same key the
worklist shows, keyed with the same secret; DICOM by StudyInstanceUID, other files by the grouping
rule named in the JSON header's ``study_grouping``), which ``fracture-triage train --data`` uses as the
cross-validation group, so the views of one study never straddle a split.

Each row carries the scope verdict (``scope``, ``scope_reason``) of the model version the reader saw
and any "in scope after all" mark in force (``scope_marked_by``/``scope_marked_at``): the gate's next
fit counts marked images as in scope (``core.scope.exports.gate_rows``).

Atomicity: everything is built in a hidden temporary sibling of the destination and renamed into
place at the end; an interrupted or failed export leaves nothing at the destination. A destination
that exists and is not empty is refused unless ``force`` (then it is replaced as a whole, after the
new export is complete).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import shutil
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Optional

from core.store.models import LABELS
from core.studies import GROUPINGS, StudyKeys

if TYPE_CHECKING:  # pragma: no cover
    from core.model.card import Thresholds
    from core.store import Store

COLUMNS = (
    "image_id",
    "study",  # pseudonymous study key (core.studies): the cross-validation group of a retraining
    "file",
    "label",
    "reviewer",
    "decided_at",
    "model_version",
    "probability",
    "model_flag",
    "agrees_with_model",
    "body_part",
    "view",
    "reference_label",
    "reference_source",
    "readers",
    "scope",  # the model's verdict for the decision's model version: in_scope / out_of_scope (core.scope)
    "scope_reason",
    "scope_marked_by",  # a reader who marked the image "in scope after all" (then the next gate fit uses it)
    "scope_marked_at",
)
READER_COLUMNS = (
    "image_id",
    "reader",
    "role",
    "label",
    "decided_at",
    "reading_mode",
    "time_to_decision_s",
    "model_version",
    "probability",
)
IMAGE_FORMAT = "8-bit greyscale PNG of the windowed display image (no metadata)"


class ExportError(Exception):
    """The export cannot be done; ``str()`` is the message to show."""


class ExportCancelled(ExportError):
    pass


@dataclass
class ExportSummary:
    out: Path
    rows: int
    counts: dict[str, int]
    images_written: int = 0
    missing: list[str] = field(default_factory=list)  # pseudonymous ids whose file could not be exported, with why


def pseudonym(secret: bytes, image_id: str) -> str:
    return hmac.new(secret, image_id.encode("ascii"), hashlib.sha256).hexdigest()[:24]


def _as_utc(since: date | datetime | None) -> Optional[datetime]:
    if since is None:
        return None
    if not isinstance(since, datetime):
        since = datetime.combine(since, time.min)
    return since.replace(tzinfo=timezone.utc) if since.tzinfo is None else since.astimezone(timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _agrees(label: str, flag: Optional[str], thresholds) -> str:  # noqa: ANN001
    if thresholds is None or label not in ("fracture", "no_fracture"):
        return ""
    return "yes" if (label == "fracture") == (flag is not None) else "no"


def _reference_columns(labels) -> dict:  # noqa: ANN001
    from core.store.readers import reference_of

    ref = reference_of(labels)
    return {"reference_label": ref.label or "", "reference_source": ref.source, "readers": str(ref.readers)}
def _verdicts(store: "Store", chosen) -> dict:  # noqa: ANN001
    """image id → (scope, reason) for the model version each decision was made with (else the latest)."""
    out: dict = {}
    by_version: dict = {}
    for d in chosen:
        by_version.setdefault(d.model_version, []).append(d.image_id)
    for version, ids in by_version.items():
        for r in store.image_rows(model_version=version, image_ids=ids):
            if r.scope is not None:
                out[r.image_id] = (r.scope, r.scope_reason)
    return out


def _scope_columns(verdict, mark) -> dict:  # noqa: ANN001
    scope, reason = verdict if verdict else ("", "")
    in_force = mark is not None and mark.in_scope
    return {
        "scope": scope,
        "scope_reason": reason or "",
        "scope_marked_by": mark.reviewer if in_force else "",
        "scope_marked_at": _iso(mark.at) if in_force else "",
    }


def _png_bytes(data: bytes, name: str) -> bytes:
    from PIL import Image

    from core.imaging.reader import read_image

    decoded = read_image(data, name=name)
    buf = io.BytesIO()
    Image.fromarray(decoded.grey, mode="L").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _image_png(store: "Store", image_id: str) -> tuple[Optional[bytes], str]:
    """PNG bytes of the image from a location whose bytes still hash to ``image_id``, or (None, why)."""
    from core.imaging.errors import FileError

    why = "no known location"
    for path in store.paths_of(image_id):
        try:
            data = Path(path).read_bytes()
        except OSError:
            why = "file no longer readable at its last known location"
            continue
        if hashlib.sha256(data).hexdigest() != image_id:
            why = "file changed since it was scanned"
            continue
        try:
            return _png_bytes(data, Path(path).name), ""
        except FileError as exc:
            return None, f"could not be decoded: {exc}"
    return None, why


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _check_destination(out: Path, force: bool) -> None:
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out} exists and is not a folder; choose another destination")
        if any(out.iterdir()) and not force:
            raise ExportError(
                f"{out} already exists and is not empty; choose a new folder (or use --force to replace it)"
            )


def export_labels(
    store: "Store",
    out: Path,
    *,
    images: bool = False,
    reviewer: Optional[str] = None,
    since: date | datetime | None = None,
    labels: Optional[Iterable[str]] = None,
    thresholds: Optional["Thresholds"] = None,
    force: bool = False,
    study_grouping: str = "folder",
    on_progress: Optional[Callable[[int, int], None]] = None,
    cancel: Optional[threading.Event] = None,
) -> ExportSummary:
    """Export the current label of every decided image matching the filters into ``out`` (atomically).

    ``reviewer``: only images whose current decision is by this reviewer; ``since``: decided at or
    after (a date means its start, UTC); ``labels``: subset of fracture/no_fracture/doubt;
    ``thresholds``: the model card's, to fill model_flag/agrees_with_model (empty without);
    ``study_grouping``: how files other than DICOM form studies (``core.config``'s, for the study column).
    """
    from core import APP_NAME, app_version

    wanted = tuple(labels) if labels else LABELS
    bad = [x for x in wanted if x not in LABELS]
    if bad:
        raise ExportError(f"unknown label(s) {', '.join(bad)}; use {', '.join(LABELS)}")
    if study_grouping not in GROUPINGS:
        raise ExportError(f"unknown study grouping {study_grouping!r}; use {', '.join(GROUPINGS)}")
    since_utc = _as_utc(since)
    out = Path(out).absolute()
    _check_destination(out, force)

    current = store.current_labels()
    chosen = [
        d
        for d in current.values()
        if d.label in wanted
        and (reviewer is None or d.reviewer == reviewer)
        and (since_utc is None or d.decided_at >= since_utc)
    ]
    chosen.sort(key=lambda d: d.id)
    info = {r.image_id: r for r in store.image_rows(image_ids=[d.image_id for d in chosen])}
    by_reader = store.labels_by_reader([d.image_id for d in chosen])
    scopes = _verdicts(store, chosen)
    marks = store.scope_marks([d.image_id for d in chosen])
    secret = store.pseudonym_secret()
    studies = StudyKeys(secret, study_grouping)

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {out.parent}: {exc.strerror or exc}") from exc
    tmp = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    try:
        tmp.mkdir()
        rows, missing, written, reader_rows = [], [], 0, []
        for n, d in enumerate(chosen):
            if cancel is not None and cancel.is_set():
                raise ExportCancelled("export cancelled; nothing was written")
            pid = pseudonym(secret, d.image_id)
            flag = thresholds.flag(d.probability) if thresholds is not None else None
            row_info = info.get(d.image_id)
            file_name = ""
            if images:
                png, why = _image_png(store, d.image_id)
                if png is None:
                    missing.append(f"{pid}: {why}")
                else:
                    (tmp / d.label).mkdir(exist_ok=True)
                    file_name = f"{d.label}/{pid}.png"
                    _write(tmp / file_name, png)
                    written += 1
            rows.append(
                {
                    "image_id": pid,
                    "study": studies.key(row_info.path, row_info.study_uid) if row_info else "",
                    "file": file_name,
                    "label": d.label,
                    "reviewer": d.reviewer,
                    "decided_at": _iso(d.decided_at),
                    "model_version": d.model_version or "",
                    "probability": "" if d.probability is None else f"{d.probability:.6f}",
                    "model_flag": (flag or "none") if thresholds is not None else "",
                    "agrees_with_model": _agrees(d.label, flag, thresholds),
                    "body_part": (row_info.body_part if row_info else None) or "",
                    "view": (row_info.view if row_info else None) or "",
                    **_reference_columns(by_reader.get(d.image_id, {})),
                    **_scope_columns(scopes.get(d.image_id), marks.get(d.image_id)),
                }
            )
            for reader, r in sorted(by_reader.get(d.image_id, {}).items()):
                reader_rows.append(
                    {
                        "image_id": pid,
                        "reader": reader,
                        "role": r.role or "reader",
                        "label": r.label,
                        "decided_at": _iso(r.decided_at),
                        "reading_mode": r.reading_mode or "aided",
                        "time_to_decision_s": "" if r.shown_ms is None else f"{r.shown_ms / 1000:.3f}",
                        "model_version": r.model_version or "",
                        "probability": "" if r.probability is None else f"{r.probability:.6f}",
                    }
                )
            if on_progress is not None:
                on_progress(n + 1, len(chosen))
        counts = {label: 0 for label in wanted}
        counts.update(Counter(r["label"] for r in rows))
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _write(tmp / "labels.csv", buf.getvalue().encode("utf-8"))
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=READER_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(reader_rows)
        _write(tmp / "labels_by_reader.csv", buf.getvalue().encode("utf-8"))
        header = {
            "app": APP_NAME,
            "app_version": app_version(),
            "exported_at": _iso(datetime.now(timezone.utc)),
            "filters": {
                "reviewer": reviewer,
                "since": _iso(since_utc) if since_utc else None,
                "labels": list(wanted),
                "images": images,
            },
            "study_grouping": study_grouping,
            "counts": counts,
            "model_versions": sorted({d.model_version for d in chosen if d.model_version}),
            "thresholds": None
            if thresholds is None
            else {"suspicious": thresholds.suspicious, "definite": thresholds.definite},
            "image_format": IMAGE_FORMAT if images else None,
            "images_missing": len(missing),
            "columns": list(COLUMNS),
        }
        doc = json.dumps({"header": header, "rows": rows}, indent=2, ensure_ascii=False)
        _write(tmp / "labels.json", doc.encode("utf-8"))
        _check_destination(out, force)
        _finish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportSummary(out=out, rows=len(rows), counts=counts, images_written=written, missing=missing)


def _finish(tmp: Path, out: Path) -> None:
    """Rename the finished export into place (replacing an empty or, with force, an old folder)."""
    old = None
    if out.exists():
        if not any(out.iterdir()):
            out.rmdir()
        else:
            old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
            os.rename(out, old)
    os.rename(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    try:  # make the rename itself durable
        fd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
