"""``fracture-triage scan FOLDER``: discover, score and store every image under a folder, headless.

Progress goes to stderr (a bar on a terminal, a quiet line every few seconds otherwise); the summary
(scored, duplicates, skipped, failed with each failure's reason) goes to stdout. ``--csv`` writes one
row per file found: ``path,status,probability,model_version,error`` with status scored / duplicate /
skipped / error, sorted by probability (highest first). Exit 0 when the scan completes, even if files
failed; 2 with one clear line when it cannot run (no such folder, bad model, unusable database);
130 when interrupted (what was scored by then is stored).

Results are written to the store by a writer thread in batches while the scan runs, so the pipeline
never waits on the database and an interrupted scan keeps what it finished.
"""

from __future__ import annotations

import argparse
import csv
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Optional

from core.cli import CliError
from core.fileio import atomic_write

STORE_BATCH = 256
CSV_COLUMNS = ("path", "status", "probability", "model_version", "error")
_CSV_STATUS = {"scored": "scored", "reused": "scored", "duplicate": "duplicate", "error": "error"}


def register(sub) -> None:
    p = sub.add_parser(
        "scan",
        help="score every X-ray under a folder and store the results (no GUI)",
        description="Find every image under FOLDER (JPEG, PNG, TIFF, BMP, DICOM; recursively), score it "
        "with the fracture model and store the results in the database. Files that cannot be read are "
        "listed with the reason and the scan carries on.",
    )
    p.add_argument("folder", type=Path, metavar="FOLDER", help="folder to scan (recursively)")
    p.add_argument("--db", metavar="URL", help="database URL (default: $FRACTURE_TRIAGE_DB, else the settings' "
                   "database, else the one in the user data folder; see `fracture-triage info`)")
    p.add_argument("--csv", metavar="OUT.csv", type=Path, help="also write one row per file found to this CSV")
    p.add_argument("--model", metavar="PATH", type=Path, help="ONNX model with its JSON card beside it "
                   "(default: $FRACTURE_TRIAGE_MODEL, else the settings' model, else the installed one)")
    p.add_argument("--no-store", action="store_true", help="do not touch the database (summary and CSV only)")
    p.add_argument("--workers", type=int, metavar="N", help="decode threads (default: one per CPU core)")
    p.add_argument("--threads", type=int, metavar="N", help="inference threads (default: one per CPU core)")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="images per inference batch (default 8)")
    p.set_defaults(func=run)


def display(path) -> str:
    """A path as text for humans: non-UTF-8 name bytes shown as \\xNN instead of crashing the print."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _say(text: str, stream=None) -> None:
    stream = stream or sys.stdout
    enc = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(enc, "backslashreplace").decode(enc) + "\n")
    stream.flush()


class _Progress:
    """A bar redrawn in place on a terminal; otherwise one line every ``every_s`` seconds."""

    def __init__(self, stream, every_s: float = 5.0) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every_s = every_s if not self.tty else 0.1
        self.last = 0.0
        self.drawn = False

    def __call__(self, p) -> None:
        now = time.monotonic()
        if now - self.last < self.every_s:
            return
        self.last = now
        total = f"{p.total}" if p.total_final else f"{p.total}+"
        if self.tty:
            frac = p.done / p.total if p.total else 0.0
            bar = "#" * int(frac * 30)
            name = display(p.current.name if p.current else "")[-30:]
            self.stream.write(f"\r[{bar:<30}] {p.done}/{total} {p.rate:5.1f}/s {name:<30}")
            self.stream.flush()
            self.drawn = True
        else:
            _say(f"scanned {p.done}/{total} files ({p.rate:.1f}/s)", self.stream)

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


class _StoreWriter(threading.Thread):
    """Writes scan items to the store in batches from its own thread; a batch the database refuses is
    retried item by item so one odd file cannot lose the others' results."""

    def __init__(self, store, root: Path) -> None:
        super().__init__(name="scan-store-writer", daemon=True)
        self.store, self.root = store, root
        self.q: queue.Queue = queue.Queue()
        self.fatal: Optional[BaseException] = None
        self.not_stored: list[tuple[Path, str]] = []
        self.stored = 0
        self.failures_in_a_row = 0

    def put(self, item) -> None:
        self.q.put(item)

    def finish(self) -> None:
        self.q.put(None)
        self.join()

    def run(self) -> None:
        done = False
        while not done:
            batch = [self.q.get()]
            deadline = time.monotonic() + 1.0
            while len(batch) < STORE_BATCH and batch[-1] is not None:
                try:
                    batch.append(self.q.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            if batch[-1] is None:
                done = True
                batch.pop()
            if batch and self.fatal is None:
                self._write(batch)

    def _write(self, batch) -> None:
        try:
            self.store.record_scan_results(self.root, batch)
            self.stored += len(batch)
            return
        except Exception as exc:  # noqa: BLE001 - retried one by one below
            first = exc
        for item in batch:
            try:
                self.store.record_scan_results(self.root, [item])
                self.stored += 1
                self.failures_in_a_row = 0
            except Exception as exc:  # noqa: BLE001
                self.not_stored.append((item.path, f"{type(exc).__name__}: {exc}"))
                self.failures_in_a_row += 1
                if self.failures_in_a_row >= 20:  # not one odd file: the database itself is failing
                    self.fatal = first
                    return


def _open_store(config):
    try:
        from core.store import StoreError, open_store
    except ImportError as exc:  # the store package is not installed in this build
        raise CliError(f"the database layer is not available ({exc}); use --no-store") from None
    try:
        return open_store(config.db_url, backups_keep=config.backups_keep)
    except StoreError as exc:
        raise CliError(f"cannot use the database: {exc}") from None


def _csv_rows(summary):
    rows = []
    for it in summary.items:
        prob = "" if it.probability is None else f"{it.probability:.6f}"
        rows.append((it.probability, display(it.path), _CSV_STATUS.get(it.status, it.status), prob,
                     it.model_version or "", it.error or ""))
    for path, reason in summary.discovery.skipped:
        rows.append((None, display(path), "skipped", "", "", reason))
    rows.sort(key=lambda r: (r[0] is None, -(r[0] or 0.0), r[1]))
    return [r[1:] for r in rows]


def write_csv(path: Path, summary) -> int:
    """Write the CSV atomically (temp file + rename); returns the number of rows."""
    rows = _csv_rows(summary)
    with atomic_write(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        w.writerows(rows)
    return len(rows)


def print_summary(summary, model, *, store_note: str) -> None:
    s = summary
    st = s.discovery
    rate = (s.scored + s.reused) / s.elapsed_s if s.elapsed_s > 0 else 0.0
    _say(f"{'Cancelled' if s.cancelled else 'Scanned'} {display(s.root)} in {s.elapsed_s:.1f} s "
         f"with model {model.name} {model.version}")
    _say(f"  scored:     {s.scored + s.reused}" + (f" ({s.reused} unchanged, reused from the database)" if s.reused else "")
         + f"  [{rate:.1f} images/s]")
    flags = [model.card.thresholds.flag(i.probability) for i in s.items if i.status in ("scored", "reused")]
    _say(f"  flagged:    {flags.count('definite')} definite, {flags.count('suspicious')} suspicious")
    _say(f"  duplicates: {s.duplicates}")
    _say(f"  skipped:    {s.skipped} ({st.skipped_hidden} hidden, {st.skipped_non_image} not images, "
         f"{st.skipped_special} pipes/sockets/devices, {st.skipped_links} links not followed)")
    _say(f"  failed:     {s.failed}")
    for it in s.errors:
        _say(f"    {display(it.path)}: {it.error}")
    _say(store_note)


def run(args: argparse.Namespace) -> int:
    from core.model import ModelError, load_model
    from core.scan import scan
    from core.config import resolve

    root: Path = args.folder
    if not root.exists():
        raise CliError(f"no such folder: {display(root)}")
    if not root.is_dir():
        raise CliError(f"not a folder: {display(root)}")
    if args.csv is not None and not (args.csv.parent if str(args.csv.parent) else Path(".")).is_dir():
        raise CliError(f"cannot write the CSV: no such folder {display(args.csv.parent)}")
    for name in ("workers", "threads", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CliError(f"--{name.replace('_', '-')} must be at least 1")
    config = resolve(db=args.db, model=args.model)
    try:
        model = load_model(config.model_path, threads=args.threads)
        model.ensure_session()
    except ModelError as exc:
        raise CliError(f"cannot use the model: {exc}") from None

    store = None if args.no_store else _open_store(config)
    writer: Optional[_StoreWriter] = None
    cancel = threading.Event()
    progress = _Progress(sys.stderr)
    known = None
    if store is not None:
        try:
            store.clear_scan_errors(root)
        except Exception as exc:  # noqa: BLE001 - StoreError or a driver error: the database is unusable
            store.close()
            raise CliError(f"cannot use the database: {exc}") from None
        writer = _StoreWriter(store, root)
        writer.start()
        version = model.version

        def known(path, size, mtime_ns):
            if writer.fatal is not None:
                cancel.set()
                return None
            try:
                return store.known_location(path, size, mtime_ns, version)
            except UnicodeError:  # a non-UTF-8 file name the database cannot hold: score it afresh
                return None

    def on_item(item) -> None:
        if writer is not None:
            writer.put(item)

    summary = None
    interrupted = False
    try:
        summary = scan(root, model, known=known, on_item=on_item, on_progress=progress, cancel=cancel,
                       workers=args.workers, batch_size=args.batch_size)
    except KeyboardInterrupt:
        interrupted = True
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        raise CliError(f"cannot scan {display(root)}: {exc.strerror or exc}") from None
    except ModelError as exc:
        raise CliError(f"the model failed: {exc}") from None
    finally:
        progress.close()
        if writer is not None:
            writer.finish()
        if store is not None:
            store.close()
    if writer is not None and writer.fatal is not None:
        raise CliError(f"cannot use the database: {writer.fatal}")
    if interrupted:
        _say("interrupted: results finished so far are stored" if writer else "interrupted", sys.stderr)
        return 130
    if writer is not None:
        note = f"Results stored in {store.location} ({writer.stored} files)"
        for path, reason in writer.not_stored:
            note += f"\n  not stored: {display(path)}: {reason}"
    else:
        note = "Results not stored (--no-store)"
    if args.csv is not None:
        try:
            n = write_csv(args.csv, summary)
        except OSError as exc:
            raise CliError(f"cannot write the CSV {display(args.csv)}: {exc.strerror or exc}") from None
        note += f"\nCSV written to {display(args.csv)} ({n} rows)"
    print_summary(summary, model, store_note=note)
    return 0
