"""``fracture-triage readers``: list the readers of a database with their roles, or add one / change a
role (``--set NAME --role reader|adjudicator``), and the clinic's reading policy (``--double-reading
on|off``, see ``core.reading``). An adjudicator's decision is the reference label of an image where
readers disagree."""

from __future__ import annotations

import argparse


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser(
        "readers",
        help="list readers and their roles, or set one's role (reader / adjudicator)",
        description="List the readers recorded in the database with their roles; with --set, add a reader or "
        "change their role. An adjudicator's label is the reference where readers disagree.",
    )
    p.add_argument("--db", metavar="URL", help="database URL (default: $FRACTURE_TRIAGE_DB, else the settings' "
                   "database, else the one in the user data folder)")
    p.add_argument("--set", metavar="NAME", help="the reader to add or change")
    p.add_argument("--role", choices=("reader", "adjudicator"), default="reader", help="role for --set (default reader)")
    p.add_argument("--double-reading", choices=("on", "off"), help="the clinic's reading policy, kept in the database: "
                   "'on' — every image is read by two readers, each blind to the other's label; 'off' (default) — one "
                   "reading per image is enough")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.config import resolve
    from core.store import StoreError, open_store

    config = resolve(db=args.db)
    try:
        store = open_store(config.db_url, backups_keep=config.backups_keep)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        if args.set:
            store.set_reader(args.set, args.role)
        if args.double_reading:
            store.set_double_reading(args.double_reading == "on")
        rows = store.readers()
        double = store.double_reading()
    except (StoreError, ValueError) as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    print(f"double reading: {'on' if double else 'off'}")
    if not rows:
        print("no readers yet (a reader is recorded with their first decision)")
    for name, role in rows:
        print(f"{name}\t{role}")
    return 0
