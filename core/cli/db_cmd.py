"""``fracture-triage db``: recovery of the label database (see ``core.store.recovery``).

* ``db backups`` lists the automatic backups of the database (newest first: time, decisions, size);
* ``db restore BACKUP`` puts a backup in place (BACKUP: a path, a file name from the list, or its
  number in the list; the current file is moved aside first, never overwritten);
* ``db salvage DAMAGED --to NEW`` copies every row that can still be read from a damaged file into a
  new database and reports what could not be read;
* ``db copy --from URL --to URL`` copies a whole label database into another one (a workstation's
  SQLite file into the clinic's PostgreSQL server, or back; see ``core.store.copy``), safe to run
  again, and verifies the copy by counts and a checksum of the decisions (exit status 0 only when
  verified);
* ``db password [--forget]`` keeps the PostgreSQL password of ``--db`` in the OS keyring (or removes
  it; see ``core.store.passwords``).

The database is the one every command uses (``--db``, ``$FRACTURE_TRIAGE_DB``, the settings, else the
default); only SQLite files can be restored or salvaged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser(
        "db",
        help="list and restore the database's backups; salvage a damaged database; copy it to another database",
        description="Recovery of the label database: list its automatic backups, restore one (the current "
        "file is moved aside first, never overwritten), or salvage every decision and prediction that can "
        "still be read from a damaged file into a new database.",
    )
    p.add_argument("--db", metavar="URL", help="database URL (default: $FRACTURE_TRIAGE_DB, else the settings' "
                   "database, else the one in the user data folder)")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    dsub.add_parser("backups", help="list this database's automatic backups (newest first)")
    r = dsub.add_parser("restore", help="put a backup in place of the database (close the app first)")
    r.add_argument("backup", metavar="BACKUP", help="backup file: a path, a name from `db backups`, or its number there")
    s = dsub.add_parser("salvage", help="copy what can still be read from a damaged database into a new one")
    s.add_argument("damaged", metavar="DAMAGED", type=Path, help="the damaged file (e.g. …sqlite3.corrupt-<time>)")
    s.add_argument("--to", metavar="NEW", type=Path, required=True, help="the new database file to create")
    c = dsub.add_parser(
        "copy",
        help="copy every image, prediction and decision into another database, then verify",
        description="Copy a label database into another one (e.g. a workstation's SQLite file into the clinic's "
        "PostgreSQL server, or back). Rows already in the target are recognised and not copied twice, so running "
        "it again is safe. Afterwards every decision is checked in the target (count and a SHA-256 of their "
        "content). Passwords come from ~/.pgpass or a service file, never from the command line.",
    )
    c.add_argument("--from", dest="source", required=True, metavar="URL", help="the database to copy from")
    c.add_argument("--to", dest="target", required=True, metavar="URL", help="the database to copy into")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    k = dsub.add_parser(
        "password",
        help="keep the PostgreSQL password of --db in the OS keyring (or --forget it)",
        description="Keep the password for the PostgreSQL database of --db in the operating system's keyring "
        "(GNOME Keyring/KWallet, macOS Keychain, Windows Credential Locker), where the app and every command "
        "find it. The password is read from the terminal without echo (or one line from standard input), never "
        "from the command line, and never shown or logged. Needs the optional keyring package; ~/.pgpass or a "
        "PostgreSQL service file work everywhere.",
    )
    k.add_argument("--forget", action="store_true", help="remove the stored password instead")
    p.set_defaults(func=run)


def _db_path(args) -> Path:  # noqa: ANN001
    from core.cli import CliError
    from core.config import resolve
    from core.store.engine import sqlite_path

    config = resolve(db=args.db)
    path = sqlite_path(config.db_url)
    if path is None:
        raise CliError("only a SQLite database file can be listed, restored or salvaged here; a database server "
                       "keeps its own backups")
    return path


def pick_backup(choice: str, backups) -> Path:  # noqa: ANN001
    """A backup named by path, by file name from the list, or by its number (1 = newest)."""
    p = Path(choice)
    if p.is_file():
        return p
    if choice.isdigit() and 1 <= int(choice) <= len(backups):
        return backups[int(choice) - 1].path
    for b in backups:
        if b.path.name == choice:
            return b.path
    from core.cli import CliError

    raise CliError(f"no backup {choice!r}; `fracture-triage db backups` lists them")


def _describe(b) -> str:  # noqa: ANN001
    when = b.taken_at.strftime("%Y-%m-%d %H:%M UTC") if b.taken_at else "time unknown"
    what = (f"{b.decisions} decisions, {b.images} images" if b.decisions is not None
            else f"UNUSABLE: {b.problem}")
    return f"{when}  {what}  {b.size / 2**20:.1f} MB  {b.path}"


def run(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.store import StoreError
    from core.store import recovery

    if args.db_command == "copy":
        return run_copy(args)
    if args.db_command == "password":
        return run_password(args)
    if args.db_command == "salvage":
        try:
            report = recovery.salvage(args.damaged, args.to)
        except StoreError as exc:
            raise CliError(str(exc)) from None
        print(f"Salvaged from {report.source} into {report.target}:")
        print(f"  decisions:   {report.decisions} read" + _lost(report, "decision"))
        print(f"  predictions: {report.predictions} read" + _lost(report, "prediction"))
        for table in ("image", "location", "reviewer", "scan_error", "meta"):
            t = report.tables.get(table)
            if t is not None:
                print(f"  {table + ':':<12} {t.read} read" + _lost(report, table))
        if report.placeholder_images or report.placeholder_reviewers:
            print(f"  {report.placeholder_images} images and {report.placeholder_reviewers} reviewers were lost but "
                  "are referred to by what was read: kept as placeholders (rescan the folders to fill them in)")
        if report.links_cleared:
            print(f"  {report.links_cleared} links to lost decisions (replaces/undoes) were cleared")
        print("Nothing could not be read." if report.unreadable == 0 and not report.schema_damaged else
              f"{report.unreadable} rows could not be read.")
        print(f"Use it with --db sqlite:///{report.target} or restore it as the database "
              f"(`fracture-triage db restore {report.target}`).")
        return 0
    path = _db_path(args)
    backups = recovery.backups_of(path)
    if args.db_command == "backups":
        if not backups:
            print(f"No backups of {path} yet (one is taken each day the database is opened).")
            return 0
        print(f"Backups of {path} (newest first):")
        for i, b in enumerate(backups, 1):
            print(f"  {i:>2}. {_describe(b)}")
        print("Restore one with `fracture-triage db restore N` (close the app first).")
        return 0
    backup = pick_backup(args.backup, backups)
    try:
        moved = recovery.restore(path, backup)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    print(f"Restored {backup} as {path}.")
    print(f"The previous database was moved to {moved} (nothing was deleted)." if moved else
          "There was no database file before.")
    return 0


def _lost(report, table: str) -> str:  # noqa: ANN001
    t = report.tables.get(table)
    if t is None:
        return ""
    out = f", {t.unreadable} could not be read" if t.unreadable else ""
    return out + (f" ({t.note})" if t.note else "")


def run_password(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.config import resolve
    from core.store import passwords
    from core.store.urls import UrlError, has_password, is_postgres, redact

    url = resolve(db=args.db).db_url
    if not is_postgres(url):
        raise CliError("only a PostgreSQL database has a password; give its address with --db postgresql://USER@HOST/DB")
    if has_password(url):
        raise CliError("the address itself contains a password; remove it from the address first")
    try:
        if args.forget:
            gone = passwords.forget(url)
            print(f"{'Removed' if gone else 'There was no'} password for {passwords.account(url)} "
                  f"{'from' if gone else 'in'} the OS keyring.")
            return 0
        password = _read_password(f"Password for {redact(url)}: ")
        if not password:
            raise CliError("no password given; nothing stored")
        acct = passwords.store_password(url, password)
    except passwords.KeyringUnavailable as exc:
        raise CliError(str(exc)) from None
    except UrlError as exc:
        raise CliError(str(exc)) from None
    print(f"Password for {acct} kept in the OS keyring; the app and its commands use it for this database.")
    return 0


def _read_password(prompt: str) -> str:
    """From the terminal without echo, else one line of standard input."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\r\n")


def run_copy(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.store import StoreError, open_store
    from core.store.copy import copy_database
    from core.store.urls import UrlError, normalise, redact

    try:
        src_url, dst_url = normalise(args.source), normalise(args.target)
    except UrlError as exc:
        raise CliError(str(exc)) from exc
    if src_url == dst_url:
        raise CliError("--from and --to name the same database")
    say: Callable[[str], None] = (lambda m: print(m, file=sys.stderr)) if args.json else print
    try:
        src = open_store(src_url, backups_keep=0)
    except StoreError as exc:
        raise CliError(f"cannot open the source: {exc}") from exc
    try:
        try:
            dst = open_store(dst_url, backups_keep=0)
        except StoreError as exc:
            raise CliError(f"cannot open the target: {exc}") from exc
        try:
            say(f"copying {redact(src_url)} -> {redact(dst_url)}")
            report = copy_database(src, dst, progress=lambda m: say(f"  {m}"))
        except StoreError as exc:
            raise CliError(f"the copy stopped: {exc} (what was copied so far stays; run it again to finish)") from exc
        finally:
            dst.close()
    finally:
        src.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(f"{'table':<12} {'source':>8} {'new':>8} {'in target':>10}")
        for name, c in report.tables.items():
            print(f"{name:<12} {c.source:>8} {c.copied:>8} {c.present:>10}")
        if report.secret:
            print(f"export pseudonym secret: {report.secret}")
        print(f"decisions checksum: source {report.source_digest[:16]}…, target {report.target_digest[:16]}…")
        for p in report.problems:
            print(f"PROBLEM: {p}")
        print("verified: every row and decision of the source is in the target" if report.verified
              else "NOT verified: see the problems above")
    return 0 if report.verified else 1
