"""``fracture-triage export``: the current labels (and optionally the images) for retraining, written
atomically into a new folder (see ``core.export``)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from core.studies import GROUPINGS


def _since(value: str):  # noqa: ANN202
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD) or date-time (ISO 8601)") from None


def register(sub) -> None:  # noqa: ANN001
    from core.results import LABELS  # light: building the CLI parser must not import sqlmodel

    p = sub.add_parser(
        "export",
        help="export the current labels (and images) for retraining",
        description="Write labels.csv (one row per image, with its reference label), labels_by_reader.csv (one row per "
        "image and reader) and labels.json (and with --images an ImageFolder layout "
        "fracture/ no_fracture/ doubt/ of 8-bit greyscale PNGs without metadata) into a new folder. "
        "No patient identifiers, file names or notes are exported; image ids are pseudonymous.",
    )
    p.add_argument("--db", metavar="URL", help="database URL (default: $FRACTURE_TRIAGE_DB, else the settings' "
                   "database, else the one in the user data folder)")
    p.add_argument("--out", metavar="DIR", required=True, type=Path, help="destination folder (must not exist or be empty)")
    p.add_argument("--images", action="store_true", help="also write the images (PNG) in an ImageFolder layout")
    p.add_argument("--reviewer", metavar="NAME", help="only images whose current decision is by this reviewer")
    p.add_argument("--since", metavar="DATE", type=_since, help="only decisions made at or after DATE (UTC)")
    p.add_argument("--labels", nargs="+", choices=LABELS, metavar="LABEL", help=f"only these labels ({', '.join(LABELS)})")
    p.add_argument("--model", metavar="PATH", type=Path, help="model whose active thresholds define the flag (default: $FRACTURE_TRIAGE_MODEL, else the "
                   "settings' model, else the installed one)")
    p.add_argument("--force", action="store_true", help="replace a non-empty destination folder")
    p.add_argument("--study-grouping", choices=GROUPINGS, help="how files other than DICOM form the `study` "
                   "column (default: $FRACTURE_TRIAGE_STUDY_GROUPING, else the settings', else folder)")
    p.set_defaults(func=run)


def _thresholds(config, store):  # noqa: ANN001, ANN202
    """The active thresholds of the model in use (``core.evaluation.calibration``), or None."""
    try:
        from core.evaluation.calibration import active_thresholds
        from core.model import load_verified_card
        from core.model.registry import Registry

        card = load_verified_card(Registry().resolve(config.model_path, config.model_source, store).path)
        return active_thresholds(store, card).thresholds
    except Exception as exc:  # the flag columns stay empty; the export itself still works
        print(f"note: no model card ({exc}); model_flag/agrees_with_model left empty", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.config import resolve
    from core.export import ExportError, export_labels
    from core.store import StoreError, open_store

    config = resolve(db=args.db, model=args.model, study_grouping=args.study_grouping)
    try:
        store = open_store(config.db_url, backups_keep=config.backups_keep)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        summary = export_labels(
            store,
            args.out,
            images=args.images,
            reviewer=args.reviewer,
            since=args.since,
            labels=args.labels,
            thresholds=_thresholds(config, store),
            force=args.force,
            study_grouping=config.study_grouping,
        )
    except (ExportError, StoreError) as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    print(f"exported {summary.rows} labels ({counts}) to {summary.out}")
    if args.images:
        print(f"images written: {summary.images_written}")
    for line in summary.missing:
        print(f"image not exported: {line}")
    return 0
