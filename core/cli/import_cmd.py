"""``fracture-triage import-labels``: labels made elsewhere (CSV of path/file name + label) recorded as
decisions by one reviewer for images already scanned (see ``core.importing``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser(
        "import-labels",
        help="record labels from a CSV (path or file name, label) as decisions",
        description="Each row (columns: path — absolute, relative to the CSV, or a bare file name — and "
        "label: fracture/no_fracture/doubt or 1/0) becomes a decision by --reviewer for an image "
        "already scanned. Rows matching no image, or several images by file name, are reported and skipped.",
    )
    p.add_argument("--db", metavar="URL", help="database URL (default: $FRACTURE_TRIAGE_DB, else the settings' "
                   "database, else the one in the user data folder)")
    p.add_argument("--reviewer", metavar="NAME", required=True, help="who the imported decisions are recorded for")
    p.add_argument("csv", metavar="FILE.csv", type=Path)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.config import resolve
    from core.importing import LabelImportError, import_labels
    from core.store import StoreError, open_store

    config = resolve(db=args.db)
    try:
        store = open_store(config.db_url, backups_keep=config.backups_keep)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        report = import_labels(store, args.csv, args.reviewer)
    except (LabelImportError, StoreError) as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    print(f"imported {report.imported} labels, {report.already} already recorded, {len(report.skipped)} rows skipped")
    for line, why in report.skipped:
        print(f"  line {line}: {why}")
    return 0
