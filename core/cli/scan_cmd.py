"""``fracture-triage scan FOLDER``: discover, score and store every image under a folder, headless.

Progress goes to stderr (a bar on a terminal, a quiet line every few seconds otherwise); the summary
(scored, duplicates, skipped, failed with each failure's reason) goes to stdout. ``--csv`` writes one
row per file found: ``path,status,probability,model_version,flag,error,note,scope,scope_reason`` with
status scored / duplicate / skipped / error; ``flag`` definite / suspicious / empty at the active thresholds
(``core.evaluation.calibration``; never for out-of-scope images); ``note`` holds the per-file caveats of a scored image ("first page
of 3 (multi-page TIFF)", "first frame of 4 (multi-frame DICOM)", "38% of the image data is missing ...",
library warnings), "; "-joined; ``scope`` is in_scope / out_of_scope (``core.scope``; empty when not
assessed) with ``scope_reason``. Rows: in-scope images first by probability (highest first), then
out-of-scope images, then the rest. The summary counts out-of-scope images by reason; out-of-scope
images are never counted as flagged. Exit 0 when the scan completes, even if files
failed; 2 with one clear line when it cannot run (no such folder, bad model, unusable database);
130 when interrupted (what was scored by then is stored). ``--watch`` keeps watching the folder after
the scan (``core.cli.scan_watch``, ``core.watch``).

Results are written to the store while the scan runs by ``core.recorder.ScanRecorder`` (batches on one
writer thread; a refused batch retried file by file), so the pipeline never waits on the database and
an interrupted scan keeps what it finished.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from core.cli import CliError
from core.studies import GROUPINGS, StudyKeys

# the pipeline's modules (numpy, the scope gate, the store) are imported where used: `scan --help` and
# building the parser stay light

CSV_COLUMNS = ("path", "study", "status", "probability", "model_version", "flag", "error", "note", "scope", "scope_reason")
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
    p.add_argument("--watch", action="store_true", help="after the scan, keep watching FOLDER: score each new or "
                   "changed image once it has finished being written, until Ctrl+C (everything scored is stored)")
    p.add_argument("--interval", type=float, default=None, metavar="S",
                   help="with --watch: walk the folder every S seconds (default 5)")
    p.add_argument("--settle", type=float, default=None, metavar="S",
                   help="with --watch: a file is read once its size and time stayed the same for S seconds (default 2)")
    p.add_argument("--study-grouping", choices=GROUPINGS, help="how files other than DICOM form the CSV's `study` "
                   "column (default: $FRACTURE_TRIAGE_STUDY_GROUPING, else the settings', else folder)")
    p.add_argument("-v", "--verbose", action="store_true", help="also print each file's decoder warnings (pydicom, "
                   "Pillow) to stderr as they occur; they are always in the CSV's note column")
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


def _open_store(config):
    try:
        from core.store import StoreError, open_store
    except ImportError as exc:  # the store package is not installed in this build
        raise CliError(f"the database layer is not available ({exc}); use --no-store") from None
    try:
        return open_store(config.db_url, backups_keep=config.backups_keep)
    except StoreError as exc:
        raise CliError(f"cannot use the database: {exc}") from None


def _csv_rows(summary, thresholds=None, studies: Optional[StudyKeys] = None):
    from core.scope.verdict import OUT_OF_SCOPE

    rows = []
    studies = studies or StudyKeys(secrets.token_bytes(32))

    def study(path, meta=None) -> str:  # noqa: ANN001
        dicom = meta.dicom if meta is not None else None
        return studies.key(path, dicom.study_uid if dicom is not None else None)

    for it in summary.items:
        prob = "" if it.probability is None else f"{it.probability:.6f}"
        note = "; ".join(it.meta.notes) if it.meta is not None else ""
        group = 2 if it.probability is None else (1 if it.scope == OUT_OF_SCOPE else 0)
        flag = ""
        if thresholds is not None and it.status != "error" and it.scope != OUT_OF_SCOPE:
            flag = thresholds.flag(it.probability) or ""
        rows.append(((group, -(it.probability or 0.0)), display(it.path), study(it.path, it.meta),
                     _CSV_STATUS.get(it.status, it.status), prob,
                     it.model_version or "", flag, it.error or "", note, it.scope or "", it.scope_reason or ""))
    for path, reason in summary.discovery.skipped:
        rows.append(((2, 0.0), display(path), study(path), "skipped", "", "", "", reason, "", "", ""))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[1:] for r in rows]


def scope_counts(items) -> tuple[int, list[tuple[str, int]]]:
    """(in-scope images, [(reason, count)] of out-of-scope images, most common first) of scored items."""
    from collections import Counter

    from core.scope.verdict import OUT_OF_SCOPE

    scored = [i for i in items if i.status in ("scored", "reused") and i.probability is not None]
    reasons = Counter(_reason_group(i.scope_reason) for i in scored if i.scope == OUT_OF_SCOPE)
    inside = sum(1 for i in scored if i.scope != OUT_OF_SCOPE)
    return inside, sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))


def _reason_group(reason: Optional[str]) -> str:
    """Reasons with a measured figure in brackets are counted together ("colour photograph …")."""
    text = reason or "out of scope"
    if text.startswith("image incomplete"):
        return "image incomplete"
    return text.split(" (", 1)[0]


def write_csv(path: Path, summary, thresholds=None, studies: Optional[StudyKeys] = None) -> int:
    """Write the CSV atomically (temp file + rename); returns the number of rows. ``thresholds``: the
    active ones (``flag`` column; empty without); ``studies``: the database's study keys (``study``
    column; without, keys from a secret made for this CSV only, so they match nothing else)."""
    from core.fileio import atomic_write

    rows = _csv_rows(summary, thresholds, studies)
    with atomic_write(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        w.writerows(rows)
    return len(rows)


def print_summary(summary, model, *, store_note: str, thresholds=None) -> None:
    s = summary
    st = s.discovery
    rate = (s.scored + s.reused) / s.elapsed_s if s.elapsed_s > 0 else 0.0
    _say(f"{'Cancelled' if s.cancelled else 'Scanned'} {display(s.root)} in {s.elapsed_s:.1f} s "
         f"with model {model.name} {model.version}")
    from core.scope import Gate
    from core.scope.verdict import OUT_OF_SCOPE

    _say("  " + Gate.for_card(model.card).describe())
    _say(f"  scored:     {s.scored + s.reused}" + (f" ({s.reused} unchanged, reused from the database)" if s.reused else "")
         + f"  [{rate:.1f} images/s]")
    thresholds = thresholds or model.card.thresholds
    flags = [thresholds.flag(i.probability) for i in s.items
             if i.status in ("scored", "reused") and i.scope != OUT_OF_SCOPE]
    _say(f"  flagged:    {flags.count('definite')} definite, {flags.count('suspicious')} suspicious")
    inside, reasons = scope_counts(s.items)
    _say(f"  in scope:   {inside}")
    _say(f"  out of scope: {sum(n for _, n in reasons)} (never flagged, listed after the in-scope images)")
    for reason, n in reasons:
        _say(f"    {n:5d}  {reason}")
    _say(f"  duplicates: {s.duplicates}")
    _say(f"  skipped:    {s.skipped} ({st.skipped_hidden} hidden, {st.skipped_non_image} not images, "
         f"{st.skipped_special} pipes/sockets/devices, {st.skipped_links} links not followed"
         + (f", {st.skipped_dicomdir} DICOM directories (DICOMDIR)" if st.skipped_dicomdir else "") + ")")
    _say(f"  failed:     {s.failed}")
    for it in s.errors:
        _say(f"    {display(it.path)}: {it.error}")
    _say(store_note)


def run(args: argparse.Namespace) -> int:
    from core.config import resolve
    from core.evaluation.calibration import active_thresholds
    from core.model import ModelError, load_model
    from core.model.registry import Registry
    from core.model.runtime import short_gil_switch
    from core.imaging.warn import PREFIX as WARNING_PREFIX
    from core.scan import scan

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
    watching = bool(getattr(args, "watch", False))
    for name in ("interval", "settle"):
        value = getattr(args, name, None)
        if value is not None and not watching:
            raise CliError(f"--{name} is only used with --watch")
        if value is not None and not 0 < value <= 3600:
            raise CliError(f"--{name} must be more than 0 and at most 3600 seconds")
    watch = None
    if watching:
        from core.watch import SETTLE_S, FolderWatch

        watch = FolderWatch(root, args.settle if args.settle is not None else SETTLE_S)
    config = resolve(db=args.db, model=args.model, study_grouping=args.study_grouping)
    store = None if args.no_store else _open_store(config)
    try:
        resolved = Registry().resolve(config.model_path, config.model_source, store)
        model = load_model(resolved.path, threads=args.threads)  # card + SHA-256 checked now; the
        # onnxruntime session is created by the scan on its own thread when a file needs scoring
    except ModelError as exc:
        if store is not None:
            store.close()
        raise CliError(f"cannot use the model: {exc}") from None
    if resolved.note:
        _say(f"note: {resolved.note}", sys.stderr)
    active = active_thresholds(store, model.card)
    try:  # the database's own study keys (the worklist's and the export's); --no-store: this CSV's only
        secret = store.pseudonym_secret() if store is not None else secrets.token_bytes(32)
    except Exception as exc:  # noqa: BLE001 - StoreError or a driver error: the database is unusable
        store.close()
        raise CliError(f"cannot use the database: {exc}") from None
    studies = StudyKeys(secret, config.study_grouping)
    recorder = None
    writer: ThreadPoolExecutor | None = None
    cancel = threading.Event()
    progress = _Progress(sys.stderr)
    if store is not None:
        from core.recorder import DatabaseFailing, ScanRecorder

        recorder = ScanRecorder(store, root, model.version)
        try:
            recorder.begin()
        except Exception as exc:  # noqa: BLE001 - StoreError or a driver error: the database is unusable
            store.close()
            raise CliError(f"cannot use the database: {exc}") from None
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan-store-writer")

    def write(batch) -> None:
        try:
            recorder.write(batch)
        except DatabaseFailing:
            cancel.set()

    verbose = bool(getattr(args, "verbose", False))

    def on_item(item) -> None:
        if recorder is not None:
            batch = recorder.add(item)
            if batch:
                writer.submit(write, batch)
        if verbose and item.meta is not None:
            for note in item.meta.notes:
                if note.startswith(WARNING_PREFIX):
                    progress.close()
                    _say(f"{display(item.path)}: {note}", sys.stderr)

    summary = None
    interrupted = False
    keep_open = False  # watching after the scan: the store and its writer stay open
    short_gil_switch()  # the store's lookups (a GIL hand-over per row) beside the writer and decoders
    try:
        summary = scan(root, model, known_batch=recorder.known_batch if recorder else None, on_item=on_item,
                       on_progress=progress, cancel=cancel, workers=args.workers, batch_size=args.batch_size)
        keep_open = watch is not None and not cancel.is_set()
    except KeyboardInterrupt:
        interrupted = True
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        raise CliError(f"cannot scan {display(root)}: {exc.strerror or exc}") from None
    except ModelError as exc:
        raise CliError(f"{'the model failed' if model.session_created else 'cannot use the model'}: {exc}") from None
    finally:
        progress.close()
        if writer is not None:
            writer.submit(write, recorder.rest())
            if keep_open:
                writer.submit(lambda: None).result()  # the summary below counts every stored result
            else:
                writer.shutdown(wait=True)
        if store is not None and not keep_open:
            store.close()
    if recorder is not None and recorder.failed:
        raise CliError(f"cannot use the database: {recorder.failure}")
    if interrupted:
        _say("interrupted: results finished so far are stored" if recorder else "interrupted", sys.stderr)
        return 130
    if recorder is not None:
        note = f"Results stored in {store.location} ({recorder.stored} files)"
        for path, reason in recorder.not_stored:
            note += f"\n  not stored: {display(path)}: {reason}"
    else:
        note = "Results not stored (--no-store)"
    if args.csv is not None:
        try:
            n = write_csv(args.csv, summary, active.thresholds, studies)
        except OSError as exc:
            raise CliError(f"cannot write the CSV {display(args.csv)}: {exc.strerror or exc}") from None
        note += f"\nCSV written to {display(args.csv)} ({n} rows)"
    note += f"\nFlags at {active.describe()}"
    print_summary(summary, model, store_note=note, thresholds=active.thresholds)
    if watch is not None:
        return _watch(args, root, model, watch, summary, recorder, writer, write, on_item, store, cancel, active)
    return 0


def _watch(args, root, model, watch, summary, recorder, writer, write, on_item, store, cancel, active) -> int:  # noqa: ANN001
    """``--watch``: hand over to ``core.cli.scan_watch`` with the scan's recorder; close everything after."""
    from core.cli.scan_watch import watch_folder

    def drain() -> None:
        if writer is not None:
            writer.submit(write, recorder.rest())
            writer.submit(lambda: None).result()

    try:
        rc = watch_folder(root, model, watch, summary=summary, known_batch=recorder.known_batch if recorder else None,
                          on_item=on_item, drain=drain, thresholds=active.thresholds,
                          interval_s=args.interval if args.interval is not None else 5.0, cancel=cancel,
                          workers=args.workers, batch_size=args.batch_size, say=_say, display=display)
    finally:
        if writer is not None:
            writer.shutdown(wait=True)
        if store is not None:
            store.close()
    if recorder is not None and recorder.failed:
        raise CliError(f"cannot use the database: {recorder.failure}")
    return rc
