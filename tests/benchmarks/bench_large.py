"""Large folders (issue 12 §5): re-scan, first results, re-opening, GUI stalls, memory and key
navigation on N generated small radiograph-like JPEGs (a script, not a test: pytest does not collect it).

In one run, on the same files and the same database:

1. **Files**: N small greyscale JPEGs (FracAtlas images downscaled to 120×144, one row altered per file
   so every file is its own image; synthetic gradients when the shared data is absent), 1,000 per
   sub-folder, ~4 KB each, in a temporary folder deleted at the end.
2. **First pass**: ``fracture-triage scan FOLDER`` (a whole process, the installed model), or with
   ``--first seed`` the database filled as a finished scan would leave it (each file's real SHA-256,
   size and mtime, a random probability) without running the model — for 100,000 files, where the
   model alone would take half an hour on two shared cores.
3. **Re-scan, CLI**: ``fracture-triage scan FOLDER`` again on the unchanged folder: the whole process's
   wall time and the scan's own time ("Scanned … in X s"); best of ``--rounds``; beside it a process
   that scans an empty folder (start-up: imports, database, model session), the floor of any command.
4. **Baseline vs now, in this process** on the first ``--baseline`` files (``scan(files=…)``): the
   per-file path as of commit 43fa00d (``Store.known_location`` per file, about six SQLAlchemy
   statements per result written) against the batched one (``known_batch``, executemany per table);
   both with the scan's own writer thread, the ratio printed.
5. **App** (a child process, offscreen Qt, the real ``MainWindow`` with the app's theme and GC guard,
   as ``desktop.app.run_app`` sets them up): (a) on an empty database, time
   from opening the folder to the first row, and the GUI thread's longest stall while it scores for
   ``--fresh-s`` seconds; (b) on the filled database: time to a usable worklist (rows listed, the top
   image current), time until the re-scan has finished, the longest GUI stall (a 5 ms QTimer
   heartbeat: how late each tick came) while the rows are listed and first painted (the first 0.3 s
   after they are usable) and, separately, during the rest of the scan; peak RSS; and moving by key (J)
   at the top, middle and bottom under every column sort, each key timed until its event was handled;
   each header click timed until its rows are sorted (on the worker pool), with the longest GUI stall meanwhile.
   ``--trace-stalls MS`` samples where the GUI thread is during stalls; ``--keep DIR`` reuses the
   generated files and databases between runs, ``--app-only`` skips the CLI parts.

    .venv/bin/python tests/benchmarks/bench_large.py [--files 10000] [--first scan|seed] [--rounds 2]
    .venv/bin/python tests/benchmarks/bench_large.py --files 100000 --first seed --baseline 2000

Targets (issue 12): re-scan of 10,000 unchanged files ≤ 2 s (CLI and app); first results ≤ 1 s; no GUI
stall > 50 ms; re-opening ≤ 1 s; ≤ 500 MB; keys ≤ 50 ms. The machine is shared: the load average and
the effective cores are printed first, and only ratios from one run compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.machine import effective_cores  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "fracatlas" / "images"
CLI = "import sys; from desktop.launcher import main; sys.exit(main())"
SIZE = (120, 144)


# ------------------------------------------------------------------------------------------ files
def make_files(dest: Path, n: int, per_folder: int) -> None:
    import numpy as np
    from PIL import Image

    srcs = sorted(SHARED.glob("*.jpg"))[:24] if SHARED.is_dir() else []
    if srcs:
        bases = [np.asarray(Image.open(p).convert("L").resize(SIZE)) for p in srcs]
    else:  # synthetic: soft gradients with a bright "bone" band
        y, x = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
        bases = [np.clip(40 + 0.5 * x + 80 * np.exp(-((x - 30 - 3 * k) ** 2) / 90.0), 0, 255).astype(np.uint8)
                 for k in range(24)]
    for i in range(n):
        d = dest / f"batch{i // per_folder:04d}"
        if i % per_folder == 0:
            d.mkdir(parents=True, exist_ok=True)
        a = bases[i % len(bases)].copy()
        a[i % SIZE[1], :] ^= (1 + (i // SIZE[1]) % 255)  # a different row or value per file
        a[(i // (SIZE[1] * 255)) % SIZE[1], : 1 + (i % 7)] ^= 64 + (i // (SIZE[1] * 255)) % 64
        Image.fromarray(a).save(d / f"img{i:06d}.jpg", quality=80)


def seed(db_url: str, root: Path, version: str) -> int:
    """The database as a finished first scan leaves it, without the model (real hashes/sizes/mtimes)."""
    import random

    from core.discovery import discover
    from core.results import SCORED, ImageMeta, ScanItem
    from core.store import open_store

    rng = random.Random(0)
    store = open_store(db_url, backups_keep=0)
    meta = ImageMeta(width=SIZE[0], height=SIZE[1], format="JPEG")
    batch, n = [], 0
    for f in discover(root):
        digest = hashlib.sha256(f.path.read_bytes()).hexdigest()
        batch.append(ScanItem(f.path, f.size, f.mtime_ns, SCORED, image_id=digest, probability=rng.random(),
                              model_version=version, meta=meta, scope="in_scope"))
        if len(batch) == 1000:
            store.record_scan_results(root, batch)
            n += len(batch)
            batch = []
    store.record_scan_results(root, batch)
    store.close()
    return n + len(batch)


# ----------------------------------------------------------------------------------- CLI re-scan
def run_cli(args: list[str], env: dict) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CLI, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr[-3000:]}")
    return wall, done.stdout


def scan_seconds(stdout: str) -> float:
    m = re.search(r"Scanned .* in ([0-9.]+) s", stdout)
    return float(m.group(1)) if m else float("nan")


# --------------------------------------------------------------------- baseline vs now (in-process)
def _old_record(store, items) -> None:
    """``Store.record_scan_results`` as of 43fa00d: about six statements per result."""
    from sqlalchemy import delete, update

    from core.results import ERROR
    from core.store.engine import run_write
    from core.store.sqlbits import insert_ignore, path_key, upsert
    from core.store.images import _E, _I, _L, _P, _image_values
    from core.store.store import _now

    now = _now()

    def work(conn) -> None:
        for item in items:
            path = path_key(item.path)
            if item.status == ERROR or not item.image_id:
                continue
            image_values = _image_values(item)
            if not insert_ignore(conn, _I, dict(id=item.image_id, first_seen=now, **image_values), ["id"]):
                if item.meta is not None:
                    conn.execute(update(_I).where(_I.c.id == item.image_id, _I.c.format.is_(None)).values(**image_values))
            loc = dict(image_id=item.image_id, size=item.size, mtime_ns=item.mtime_ns, last_seen=now)
            upsert(conn, _L, dict(path=path, name=Path(path).name, **loc), ["path"], list(loc))
            conn.execute(delete(_E).where(_E.c.path == path))
            if item.probability is not None and item.model_version:
                insert_ignore(conn, _P, dict(image_id=item.image_id, model_version=item.model_version,
                                             probability=float(item.probability), created_at=now, scope=item.scope,
                                             scope_reason=item.scope_reason), ["image_id", "model_version"])

    run_write(store.engine, work)


def timed_rescan(store, model, root: Path, files, old: bool) -> float:
    """A scan of ``files`` with its results written on one writer thread (as the CLI does); seconds
    until the last result is stored."""
    from core.recorder import ScanRecorder
    from core.scan import scan

    recorder = ScanRecorder(store, root, model.version)
    writer = ThreadPoolExecutor(max_workers=1)
    write = (lambda b: _old_record(store, b)) if old else recorder.write

    def on_item(item) -> None:
        batch = recorder.add(item)
        if batch:
            writer.submit(write, batch)

    t = time.perf_counter()
    if old:
        known = lambda p, size, m: store.known_location(p, size, m, model.version)  # noqa: E731
        s = scan(root, model, files=files, known=known, on_item=on_item)
    else:
        s = scan(root, model, files=files, known_batch=recorder.known_batch, on_item=on_item)
    writer.submit(write, recorder.rest())
    writer.shutdown(wait=True)
    elapsed = time.perf_counter() - t
    assert s.reused == len(files), (s.reused, s.scored, len(files))
    return elapsed


# ------------------------------------------------------------------------------------------- app
class StallTracer:
    """``--trace-stalls MS``: a watcher thread samples the GUI thread's Python stack every 2 ms while the
    heartbeat is more than MS late, and counts the innermost frames of the product's own code: where the
    GUI thread spends the stalls. (Sampling takes the GIL, so traced runs' figures are not the benchmark's.)"""

    def __init__(self, clock, beat: dict, late_ms: float) -> None:
        import threading

        self.clock, self.beat, self.late_ms = clock, beat, late_ms
        self.gui = threading.get_ident()
        self.samples: dict[str, int] = {}
        self.stalls: dict[float, list] = {}  # heartbeat time before a stall -> its samples in order
        self.running = True
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        import traceback

        while self.running:
            time.sleep(0.002)
            last = self.beat["last"]
            if not self.beat["on"] or last is None or self.clock.nsecsElapsed() / 1e6 - last < self.late_ms:
                continue
            frame = sys._current_frames().get(self.gui)
            if frame is None:
                continue
            full = traceback.extract_stack(frame)
            ours = [f for f in full if str(ROOT) in f.filename
                    and "/benchmarks/" not in f.filename and "/.venv/" not in f.filename]
            where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(ours[-4:]))
            inner = full[-1]
            if not ours or inner is not ours[-1]:  # in a library, or in Qt's own C++ (the innermost Python frame)
                where = f"[{Path(inner.filename).name}:{inner.lineno} {inner.line}] " + where
            self.samples[where] = self.samples.get(where, 0) + 1
            seq = self.stalls.setdefault(last, [])
            if not seq or seq[-1][0] != where:
                seq.append([where, 0])
            seq[-1][1] += 1

    def stop(self) -> list:
        """(where, samples) rows: the 15 most sampled places, then the 3 longest stalls sample by sample."""
        self.running = False
        self.thread.join()
        rows = sorted(self.samples.items(), key=lambda kv: -kv[1])[:15]
        for seq in sorted(self.stalls.values(), key=lambda seq: -sum(n for _, n in seq))[:3]:
            rows += [("--- a long stall, samples in order:", sum(n for _, n in seq)), *seq]
        return rows


def app_child(mode: str, root: Path, db_url: str, fresh_s: float, out: Path, trace_ms: float = 0.0) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from core.model import find_default_model, load_model
    from core.settings import Settings
    from core.store import open_store
    from desktop.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    from desktop import gc_guard, theme

    theme.apply_theme(app)  # as desktop.app.run_app does: its style sheet makes every paint dearer
    gc_guard.install(app)  # as run_app does: cycles collected on the GUI thread only
    store = open_store(db_url, backups_keep=0)
    model = load_model(find_default_model())
    # As the window does (a pool thread): onnxruntime's threads take the nice value of the thread that
    # makes the session, so a session made here would run the scan's inference beside the GUI thread at
    # its priority, which the app never does.
    from desktop.tasks import yield_to_gui

    maker = threading.Thread(target=lambda: (yield_to_gui(), model.ensure_session()))
    maker.start()
    maker.join()
    w = MainWindow(store=store, model=model, settings=Settings(), reviewer="bench",
                   settings_path=out.parent / f"settings-{mode}.json")
    w.resize(1366, 768)
    w.show()
    for _ in range(20):
        app.processEvents()

    clock = QElapsedTimer()
    clock.start()
    beat = {"last": None, "max": 0.0, "on": False, "n": 0}
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(5)

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if beat["on"] and beat["last"] is not None:
            beat["max"] = max(beat["max"], now - beat["last"] - 5.0)
            beat["n"] += 1
        beat["last"] = now

    heartbeat.timeout.connect(tick)
    heartbeat.start()
    res: dict = {"mode": mode}
    tracer = StallTracer(clock, beat, trace_ms) if trace_ms else None
    s = w.session
    done = {"scan": None}
    w.scan_done.connect(lambda summary: done.__setitem__("scan", clock.nsecsElapsed() / 1e6))

    def wait(pred, timeout_s: float) -> bool:
        end = time.perf_counter() + timeout_s
        while not pred():
            if time.perf_counter() > end:
                return False
            app.processEvents()
            time.sleep(0.0005)  # a benchmark's own loop (no test): let the heartbeat fire on time
        return True

    beat["on"], beat["last"] = True, None
    t0 = clock.nsecsElapsed() / 1e6
    cpu0 = time.thread_time()  # the GUI thread's own CPU time: less at the mercy of a noisy machine
    w.open_folder(root)
    wait(lambda: s.order is not None and len(s.order) > 0 and s.current_item is not None, 600)
    res["first_row_ms" if mode == "fresh" else "usable_ms"] = clock.nsecsElapsed() / 1e6 - t0
    wait(lambda: False, 0.3)  # the first paint of the rows
    res["bind_stall_ms"], beat["max"] = beat["max"], 0.0  # opening: until the rows are listed and painted
    res["bind_cpu_ms"] = (time.thread_time() - cpu0) * 1000
    if mode == "fresh":
        wait(lambda: False, fresh_s)
        res["rows_after_s"] = len(s.order)
        res["stall_ms"] = beat["max"]
        s.cancel_scan()
        wait(lambda: done["scan"] is not None, 120)
    else:
        res["rows"] = len(s.order)
        wait(lambda: done["scan"] is not None, 600)
        res["rescan_ms"] = done["scan"] - t0
        wait(lambda: False, 0.5)
        res["stall_ms"] = beat["max"]
        beat["on"] = False
        res["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        keys: dict[str, list[float]] = {}
        from core.order import row_key
        from desktop.worklist_model import SORT_COLUMN

        sorts = [(None, False)] + [(c, d) for c in sorted(SORT_COLUMN) for d in (False, True)]
        res["sort_ms"] = {}
        for col, desc in sorts:
            label = "worklist order" if col is None else f"{SORT_COLUMN[col]} {'desc' if desc else 'asc'}"
            beat["max"], beat["on"] = 0.0, True
            t = time.perf_counter()  # a header click: the re-sort (on the pool), the table's reset, its repaint
            w.worklist.table.horizontalHeader().setSortIndicator(
                -1 if col is None else col, Qt.SortOrder.DescendingOrder if desc else Qt.SortOrder.AscendingOrder)
            app.processEvents()
            call_ms = (time.perf_counter() - t) * 1000
            wait(lambda: not w.worklist.model.sort_pending, 60)
            sorted_ms = (time.perf_counter() - t) * 1000
            wait(lambda: False, 0.05)
            beat["on"] = False
            res["sort_ms"][label] = (max(call_ms, beat["max"]), sorted_ms)
            n = len(s.order)
            for pos in (0, n // 2, max(0, n - 3)):
                s.select(row_key(s.order[pos]))
                wait(lambda: False, 0.02)
                for _ in range(2):
                    target = QApplication.focusWidget() or w.review.viewer
                    t = time.perf_counter()
                    QTest.keyClick(target, Qt.Key.Key_J)
                    app.processEvents()
                    keys.setdefault(label, []).append((time.perf_counter() - t) * 1000)
        res["keys_ms"] = {k: max(v) for k, v in keys.items()}
        res["rss_end_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # after every sort too
        res["key_median_ms"] = statistics.median([x for v in keys.values() for x in v])
    heartbeat.stop()
    if tracer:
        res["stall_stacks"] = tracer.stop()
    out.write_text(json.dumps(res), encoding="utf-8")
    w.close()
    store.close()


def run_app(mode: str, root: Path, db_url: str, env: dict, tmp: Path, fresh_s: float, trace_ms: float = 0.0) -> dict:
    out = tmp / f"app-{mode}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--app-child", mode, "--root", str(root), "--db", db_url,
           "--fresh-s", str(fresh_s), "--out", str(out), "--trace-stalls", str(trace_ms)]
    done = subprocess.run(cmd, env={**env, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"app child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


# -------------------------------------------------------------------------------------------- main
def prepare(args, root: Path, tmp: Path, env: dict) -> None:
    """The files and the first pass (a real scan or a seeded database), kept as scanned.sqlite3."""
    from core.model import find_default_model, load_model

    t = time.perf_counter()
    make_files(root, args.files, args.per_folder)
    du = sum(p.stat().st_size for p in root.rglob("*.jpg"))
    print(f"generated {args.files:,} JPEGs ({SIZE[0]}x{SIZE[1]}, {du / args.files / 1024:.1f} KB each) "
          f"in {time.perf_counter() - t:.0f} s")
    db = f"sqlite:///{tmp / 'labels.sqlite3'}"
    model = load_model(find_default_model())
    if args.first == "scan":
        wall, out = run_cli(["scan", str(root), "--db", db], env)
        print(f"first scan (CLI, model {model.name} {model.version}): {wall:.1f} s wall, scan {scan_seconds(out):.1f} s, "
              f"{args.files / scan_seconds(out):.0f} images/s")
    else:
        t = time.perf_counter()
        n = seed(db, root, model.version)
        print(f"first pass seeded (no model): {n:,} files in {time.perf_counter() - t:.0f} s")
    shutil.copy(tmp / "labels.sqlite3", tmp / "scanned.sqlite3")  # the app's re-scan starts from the same state


def cli_and_baseline(args, root: Path, tmp: Path, env: dict) -> None:
    """CLI re-scans of the unchanged folder (whole processes) and the in-process baseline/now ratio."""
    from core.discovery import discover
    from core.model import find_default_model, load_model
    from core.store import open_store

    db = f"sqlite:///{tmp / 'labels.sqlite3'}"
    empty = tmp / "empty"
    empty.mkdir(exist_ok=True)
    floor = min(run_cli(["scan", str(empty), "--db", db], env)[0] for _ in range(args.rounds))
    walls, scans = [], []
    for _ in range(args.rounds):
        wall, out = run_cli(["scan", str(root), "--db", db], env)
        walls.append(wall)
        scans.append(scan_seconds(out))
    print(f"\nre-scan of the unchanged folder, CLI (best of {args.rounds}): {min(walls):.2f} s wall, "
          f"scan itself {min(scans):.2f} s; start-up alone (empty folder) {floor:.2f} s")

    model = load_model(find_default_model())
    model.ensure_session()
    store = open_store(db, backups_keep=0)
    files = list(discover(root))[: args.baseline]
    now = min(timed_rescan(store, model, root, files, old=False) for _ in range(args.rounds))
    old = timed_rescan(store, model, root, files, old=True)
    store.close()
    print(f"re-scan of {len(files):,} unchanged files in this process: baseline (per-file, 43fa00d) {old:.2f} s, "
          f"now {now:.2f} s -> {old / now:.1f}x faster; per 10,000 files: {old / len(files) * 1e4:.1f} s vs "
          f"{now / len(files) * 1e4:.2f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--per-folder", type=int, default=1000)
    ap.add_argument("--first", choices=("scan", "seed"), default="scan", help="first pass: the real scan, or a seeded database")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", type=int, default=2000, help="files for the in-process baseline/now comparison")
    ap.add_argument("--fresh-s", type=float, default=8.0, help="seconds the app scores a fresh folder (stall figure)")
    ap.add_argument("--no-app", action="store_true")
    ap.add_argument("--app-only", action="store_true", help="skip the CLI re-scans and the in-process baseline")
    ap.add_argument("--trace-stalls", type=float, default=0.0, metavar="MS",
                    help="sample the GUI thread's stack while the heartbeat is MS late and print where it was")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="generate the files and databases into DIR and reuse them on the next run (not deleted)")
    ap.add_argument("--app-child", help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.app_child:
        app_child(args.app_child, args.root, args.db, args.fresh_s, args.out, args.trace_stalls)
        return 0

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-large-"))
    tmp.mkdir(parents=True, exist_ok=True)
    reuse = args.keep is not None and (tmp / "scanned.sqlite3").exists()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FRACTURE_TRIAGE_HOME": str(tmp / "home")}
    root = tmp / "xrays"
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{os.cpu_count()} CPU cores; effective cores available now {effective_cores():.2f}; load average {load}")
        if reuse:
            print(f"reusing the files and the scanned database in {tmp}")
        else:
            prepare(args, root, tmp, env)
        if not args.app_only:
            cli_and_baseline(args, root, tmp, env)
        if not args.no_app:
            (tmp / "fresh.sqlite3").unlink(missing_ok=True)
            shutil.copy(tmp / "scanned.sqlite3", tmp / "reopen.sqlite3")  # each run re-opens the same state
            fresh = run_app("fresh", root, f"sqlite:///{tmp / 'fresh.sqlite3'}", env, tmp, args.fresh_s, args.trace_stalls)
            print(f"\napp, empty database: first row after {fresh['first_row_ms']:.0f} ms; longest GUI stall while "
                  f"scoring for {args.fresh_s:.0f} s: {fresh['stall_ms']:.0f} ms ({fresh['rows_after_s']} rows by then; "
                  f"{fresh['bind_stall_ms']:.0f} ms until the first row was listed and painted)")
            again = run_app("reopen", root, f"sqlite:///{tmp / 'reopen.sqlite3'}", env, tmp, args.fresh_s, args.trace_stalls)
            print(f"app, scanned folder re-opened: usable worklist ({again['rows']:,} rows, top image current) after "
                  f"{again['usable_ms']:.0f} ms; re-scan finished after {again['rescan_ms'] / 1000:.2f} s; longest GUI "
                  f"stall while listing and first painting the rows {again['bind_stall_ms']:.0f} ms (the GUI thread's own "
                  f"CPU time from opening to 0.3 s after usable: {again['bind_cpu_ms']:.0f} ms), during the re-scan "
                  f"after that {again['stall_ms']:.0f} ms; peak RSS {again['rss_mb']:.0f} MB")
            worst = max(again["keys_ms"].values())
            print(f"  next image by key (J) at top/middle/bottom: median {again['key_median_ms']:.1f} ms, worst "
                  f"{worst:.1f} ms; peak RSS after every sort {again['rss_end_mb']:.0f} MB; worst per sort:")
            for k, v in again["keys_ms"].items():
                stall, took = again["sort_ms"][k]
                print(f"    {k:<22}{v:7.1f} ms   (re-sorting to it: longest GUI stall {stall:.1f} ms, rows sorted "
                      f"{took:.0f} ms after the click)")
            for name, res in (("scoring a fresh folder", fresh), ("re-opening", again)):
                if res.get("stall_stacks"):
                    print(f"\nGUI thread during stalls > {args.trace_stalls:.0f} ms, {name} (2 ms samples):")
                    for where, n in res["stall_stacks"]:
                        print(f"  {n:5}  {where}")
        print(f"\nload average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
