"""How long until reader B's window shows reader A's decision, on a real local PostgreSQL server —
the desktop's live updates (``desktop.live``: a poll every 2 s) measured end to end.

    .venv/bin/python tests/benchmarks/bench_live.py [--images 30] [--decisions 25] [--seed 1]

It starts a private server (``tests/pgcluster.py``: Unix socket only, fsync on), opens reader B's
real main window (offscreen) on a folder of generated images, and runs reader A in a separate
process with its own connection: A records ``--decisions`` decisions (``Store.record_decision``,
the call the app's writer thread makes) at random moments 0.2-1.2 s apart and reports each one on
its pipe after the commit returned. The latency of one decision is from that acknowledgement to the
moment B's worklist row changed (``MainSession.others_updated``, after ``Worklist.apply_update`` on
B's GUI thread; the view repaints on the next turn of the event loop). For comparison the script
also times PostgreSQL's own LISTEN/NOTIFY between two connections of the same server: the
notification floor that polling gives up. Prints median, 90th percentile and maximum. Figures, not
asserts; needs Debian's ``postgresql`` package.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def reader_a(url: str, ids_file: str, seed: int) -> int:
    """The child: reader A deciding the images listed in ``ids_file``, one acknowledgement line each."""
    from core.store import open_store

    rnd = random.Random(seed)
    store = open_store(url, backups_keep=0)
    try:
        for image_id in Path(ids_file).read_text().split():
            time.sleep(rnd.uniform(0.2, 1.2))
            store.record_decision(image_id, "A", rnd.choice(("fracture", "no_fracture")), reading_mode="aided",
                                  shown_ms=rnd.randint(800, 6000))
            print(f"{image_id} {time.time():.6f}", flush=True)
    finally:
        store.close()
    return 0


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def summary(values: list[float]) -> str:
    d = 0 if max(values) >= 100 else 2
    return (f"median {statistics.median(values):.{d}f} ms, p90 {percentile(values, 0.9):.{d}f} ms, "
            f"max {max(values):.{d}f} ms (n={len(values)})")


def notify_floor(url: str, n: int = 50) -> list[float]:
    """Milliseconds from NOTIFY's commit to the listening connection receiving it (psycopg 3)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conninfo = f"dbname={u.database} user={u.username} host={u.query['host']}"
    out = []
    with psycopg.connect(conninfo, autocommit=True) as listener, psycopg.connect(conninfo, autocommit=True) as talker:
        listener.execute("LISTEN ft_bench")
        for _ in range(n):
            t0 = time.perf_counter()
            talker.execute("NOTIFY ft_bench, 'x'")
            next(listener.notifies(timeout=5))
            out.append((time.perf_counter() - t0) * 1000)
    return out


def make_folder(folder: Path, n: int) -> Path:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(n):
        a = np.clip(rng.normal(40 + (i * 7) % 180, 12, (96, 96)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(folder / f"xray_{i:03d}.png")
    return folder


def run(args: argparse.Namespace, url: str, home: Path) -> int:
    from PySide6.QtWidgets import QApplication

    from core.model import load_model
    from core.settings import Settings
    from core.store import open_store
    from desktop.live import POLL_INTERVAL_MS
    from desktop.main_window import MainWindow
    from tests.model_factory import write_model

    app = QApplication.instance() or QApplication(["bench-live"])

    def wait(cond, timeout: float) -> bool:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            app.processEvents()
            if cond():
                return True
            time.sleep(0.002)
        return cond()

    folder = make_folder(home / "xrays", args.images)
    store = open_store(url, backups_keep=0)
    b = MainWindow(store=store, model=load_model(write_model(home / "model")), settings=Settings(reviewer="B"),
                   reviewer="B", settings_path=home / "settings-b.json")
    b.resize(1366, 768)
    b.show()
    scanned = []
    b.scan_done.connect(scanned.append)
    b.open_folder(folder)
    if not wait(lambda: bool(scanned) and b.session.current_item is not None, 300):
        print("reader B's window did not finish the scan")
        return 1
    rows = [it.image_id for it in b.worklist.shown_items() if it.image_id]
    mine = b.session.current_item.image_id
    chosen = [i for i in reversed(rows) if i != mine][: args.decisions]  # not the image on B's screen
    ids_file = home / "ids.txt"
    ids_file.write_text("\n".join(chosen))

    committed: dict[str, float] = {}
    seen: dict[str, float] = {}
    lock = threading.Lock()

    def changed(_n: int) -> None:
        now = time.time()
        wl = b.session.worklist
        for image_id in chosen:
            if image_id not in seen and wl.item(image_id) is not None and wl.item(image_id).reading is not None:
                seen[image_id] = now

    b.session.others_updated.connect(changed)
    child = subprocess.Popen([sys.executable, __file__, "--child-a", url, str(ids_file), str(args.seed)],
                             stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
                             env={**os.environ, "PYTHONPATH": str(ROOT)})

    def read_child() -> None:
        for line in child.stdout:
            image_id, t = line.split()
            with lock:
                committed[image_id] = float(t)

    reader = threading.Thread(target=read_child, daemon=True)
    reader.start()
    t0 = time.perf_counter()
    ok = wait(lambda: len(seen) == len(chosen) and child.poll() is not None, 60 + 3 * len(chosen))
    child.wait(timeout=30)
    reader.join(timeout=10)
    wall = time.perf_counter() - t0
    latencies = [(seen[i] - committed[i]) * 1000 for i in chosen if i in seen and i in committed]
    left = [i for i in chosen if i not in seen]
    gone = sum(1 for i in chosen if i not in [it.image_id for it in b.worklist.shown_items()])
    b.close()
    store.close()
    print(f"PostgreSQL {args.images} images; reader A (another process) made {len(committed)} decisions in "
          f"{wall:.1f} s; B's window polls every {POLL_INTERVAL_MS / 1000:.0f} s")
    if latencies:
        print(f"  A's commit acknowledged -> B's row updated: {summary(latencies)}")
    print(f"  of A's images, {gone} left B's 'To review' list without a reload; {len(left)} never arrived")
    floor = notify_floor(url)
    print(f"  for comparison, LISTEN/NOTIFY between two connections: {summary(floor)}")
    return 0 if ok and not left else 1


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child-a":
        return reader_a(*sys.argv[2:4], int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=30)
    ap.add_argument("--decisions", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    from tests.pgcluster import PgCluster

    cluster, why = PgCluster.find()
    if cluster is None:
        print(f"PostgreSQL: skipped ({why})")
        return 0
    home = Path(tempfile.mkdtemp(prefix="ft-bench-live-"))
    os.environ["FRACTURE_TRIAGE_HOME"] = str(home)
    try:
        cluster.start(fsync=True)
        return run(args, cluster.create_database(), home)
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
