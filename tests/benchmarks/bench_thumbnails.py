"""Thumbnails: what they cost the scan, and whether they ever stall the GUI thread (a script, not a test).

1. **Scan cost** (core, no Qt): ``core.scan.scan`` on N images with and without the thumbnail hook
   (``ThumbnailCache.put_decoded``, fresh cache each round), interleaved rounds, best of each:
   images/s and the ratio. Beside it, per image: a cache hit (``get``) and a lazy miss (``make``: read,
   hash, reduced decode, write) in ms.
2. **GUI during a scan** (offscreen main window, the same N images, fresh database and cache each
   round, thumbnails on / off interleaved): the longest gap between two beats of a 10 ms timer on the
   GUI thread (a stall) while the scan streams rows in and the table loads their thumbnails, and how
   many gaps exceeded 50 ms.
3. **Scrolling a long worklist** (``--rows`` rows, default 10,000, stored as synthetic scan results
   with a cached thumbnail each — no image files are needed for this part): page by page through the
   whole table, the GUI-thread time to paint each page (median, max) with thumbnails off, on and not
   yet in memory (cold: the page queues its loads), and on again (warm, from the in-memory LRU); the
   longest GUI stall over the sweep and how long after the last page its thumbnails were all shown.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_thumbnails.py [--images 200] [--rows 10000] [--rounds 2]

Images: the first N FracAtlas JPEGs of the shared data folder, else generated ones. Model: the
installed one, else the synthetic test model. On a shared machine compare only figures from one run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SHARED = ROOT.parent / "shared" / "data" / "fracatlas" / "images"


def make_images(folder: Path, n: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    if SHARED.is_dir():
        for p in sorted(SHARED.glob("*.jpg"))[:n]:
            shutil.copy2(p, folder / p.name)
        return f"{n} FracAtlas JPEGs"
    from PIL import Image

    rng = np.random.default_rng(1)
    for i in range(n):
        a = np.clip(rng.normal(60 + i % 150, 30, (454, 373)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(folder / f"gen_{i:05d}.jpg", quality=90)
    return f"{n} generated 373x454 JPEGs (no shared data)"


def load_any_model(home: Path):
    from core.model import ModelError, load_model

    try:
        return load_model(None, threads=1)
    except ModelError:
        from tests.model_factory import write_model

        return load_model(write_model(home / "test-model"), threads=1)


# ----------------------------------------------------------------------------------------- 1. core
def bench_scan_cost(folder: Path, home: Path, model, rounds: int) -> None:
    from core.scan import scan
    from core.thumbnails import ThumbnailCache

    best = {"off": 0.0, "on": 0.0}
    for r in range(rounds):
        for mode in ("off", "on"):
            cache = ThumbnailCache(home / f"thumbs-{r}-{mode}")
            s = scan(folder, model, on_decoded=cache.put_decoded if mode == "on" else None)
            best[mode] = max(best[mode], s.scored / s.elapsed_s)
    print(f"scan, images/s (best of {rounds}): without thumbnails {best['off']:.1f}, with {best['on']:.1f} "
          f"→ ratio {best['on'] / best['off']:.2f}")
    cache = ThumbnailCache(home / f"thumbs-{rounds - 1}-on")
    files = sorted(folder.iterdir())
    ids = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    t = time.perf_counter()
    for i in ids:
        assert cache.get(i) is not None
    hit = (time.perf_counter() - t) / len(ids) * 1000
    lazy = ThumbnailCache(home / "thumbs-lazy")
    t = time.perf_counter()
    for i, p in zip(ids, files):
        assert lazy.make(i, p) is not None
    miss = (time.perf_counter() - t) / len(ids) * 1000
    usage = cache.usage()
    print(f"per image: cache hit {hit:.2f} ms, lazy miss (read + hash + reduced decode + write) {miss:.1f} ms; "
          f"{usage.bytes / max(1, usage.files) / 1024:.1f} KB per thumbnail on disk")


# ------------------------------------------------------------------------------------------ 2./3. GUI
class Beats:
    """Gaps between the beats of a 10 ms timer on the GUI thread."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._beat)

    def _beat(self):
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def start(self):
        self.gaps.clear()
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self):
        self.timer.stop()
        return (max(self.gaps) * 1000 if self.gaps else 0.0), sum(g > 0.05 for g in self.gaps)


def pump(app, cond, timeout=600.0) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.002)
    return False


def window(home: Path, model, db: str, cache, show: bool, size=(1366, 768)):
    from core.settings import Settings
    from core.store import open_store
    from desktop.main_window import MainWindow

    store = open_store(db, backups_keep=0)
    w = MainWindow(store=store, model=model, settings=Settings(reviewer="Bench", show_thumbnails=show),
                   reviewer="Bench", settings_path=home / "settings.json", thumbnails=cache)
    w.resize(*size)
    w.show()
    return w, store


def bench_gui_scan(app, folder: Path, home: Path, model, rounds: int) -> None:
    from core.thumbnails import ThumbnailCache

    res = {"off": [], "on": []}
    for r in range(rounds):
        for mode in ("off", "on"):
            db = "sqlite:///" + str(home / f"gui-{r}-{mode}.sqlite3")
            w, store = window(home, model, db, ThumbnailCache(home / f"gui-thumbs-{r}-{mode}"), mode == "on")
            pump(app, lambda: False, 0.3)
            done = []
            w.scan_done.connect(done.append)
            beats = Beats()
            beats.start()
            w.open_folder(folder)
            pump(app, lambda: bool(done))
            if mode == "on":  # until the rows on screen show their thumbnails
                pump(app, lambda: all_shown(w), 60)
            res[mode].append(beats.stop() + (done[0].elapsed_s,))
            w.close()
            store.close()
            pump(app, lambda: False, 0.1)
    for mode in ("off", "on"):
        worst = max(res[mode])
        print(f"GUI during a scan of {len(list(folder.iterdir()))} images, thumbnails {mode:>3}: longest stall "
              f"{worst[0]:.0f} ms (rounds: {', '.join(f'{x[0]:.0f}' for x in res[mode])}), gaps > 50 ms: "
              f"{', '.join(str(x[1]) for x in res[mode])}; scan {', '.join(f'{x[2]:.1f}' for x in res[mode])} s")


def visible_rows(w) -> range:
    t = w.worklist.table
    top = max(0, t.rowAt(0))
    bottom = t.rowAt(t.viewport().height() - 1)
    bottom = w.worklist.model.rowCount() - 1 if bottom < 0 else bottom
    return range(top, bottom + 1)


def all_shown(w) -> bool:
    from PySide6.QtCore import Qt

    from desktop.worklist_model import COL_FILE

    m, loader = w.worklist.model, w.thumbnails
    for r in visible_rows(w):
        it = m.item(r)
        if it is not None and it.error is None and not loader.failed(it.image_id) and \
                m.data(m.index(r, COL_FILE), Qt.ItemDataRole.DecorationRole) is loader.placeholder:
            return False
    return True


def bench_scroll(app, home: Path, model, n_rows: int) -> None:
    from core.results import SCORED, ImageMeta, ScanItem
    from core.store import open_store
    from core.thumbnails import ThumbnailCache

    root = home / "long-list"
    root.mkdir()
    db = "sqlite:///" + str(home / "long.sqlite3")
    cache = ThumbnailCache(home / "long-thumbs")
    rng = np.random.default_rng(3)
    base = np.add.outer(np.arange(128), np.arange(100)).astype(np.uint8)
    t = time.perf_counter()
    store = open_store(db, backups_keep=0)
    items = []
    for i in range(n_rows):
        image_id = hashlib.sha256(f"row-{i}".encode()).hexdigest()
        cache.put(image_id, (base + rng.integers(0, 60, base.shape, dtype=np.uint8)))
        items.append(ScanItem(root / f"img_{i:06d}.jpg", 1000, 1, SCORED, image_id=image_id,
                              probability=float(rng.random()), model_version=model.version,
                              meta=ImageMeta(100, 128, "JPEG")))
    for k in range(0, n_rows, 2000):
        store.record_scan_results(root, items[k:k + 2000])
    store.close()
    print(f"long worklist: {n_rows:,} stored rows with cached thumbnails prepared in {time.perf_counter() - t:.1f} s")

    for mode in ("off", "on"):
        w, store = window(home, model, db, ThumbnailCache(home / "long-thumbs"), mode == "on")
        done = []
        w.scan_done.connect(done.append)
        w.open_folder(root)
        pump(app, lambda: bool(done) and w.worklist.model.rowCount() == n_rows, 120)
        t_ = w.worklist.table
        sb = t_.verticalScrollBar()
        page = max(1, t_.viewport().height() // t_.verticalHeader().defaultSectionSize())
        passes = ("off",) if mode == "off" else ("cold", "warm")
        for label in passes:
            paints = []
            beats = Beats()
            beats.start()
            row = 0
            while row < n_rows:
                t_.scrollTo(w.worklist.model.index(row, 0), t_.ScrollHint.PositionAtTop)
                t0 = time.perf_counter()
                t_.viewport().repaint()  # the paint itself, on the GUI thread, now
                paints.append((time.perf_counter() - t0) * 1000)
                app.processEvents()
                row += page
            t_end = time.perf_counter()
            if label != "off":
                pump(app, lambda: all_shown(w), 60)
            settle = (time.perf_counter() - t_end) * 1000
            stall, over = beats.stop()
            extra = f"; last page's thumbnails all shown {settle:.0f} ms after it was painted" if label != "off" else ""
            print(f"scroll {n_rows:,} rows by page ({len(paints)} pages), thumbnails {label:>4}: paint per page median "
                  f"{statistics.median(paints):.1f} ms, max {max(paints):.1f} ms; longest GUI stall {stall:.0f} ms, "
                  f"gaps > 50 ms: {over}{extra}")
            sb.setValue(0)
            app.processEvents()
        w.close()
        store.close()
        pump(app, lambda: False, 0.1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: scan,gui,scroll")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    home = Path(tempfile.mkdtemp(prefix="ft-bench-thumbs-"))
    os.environ["FRACTURE_TRIAGE_HOME"] = str(home)
    try:
        folder = home / "images"
        what = make_images(folder, args.images)
        model = load_any_model(home)
        print(f"{what}; model {model.name} {model.version}; {os.cpu_count()} CPUs "
              f"(load average {os.getloadavg()[0]:.1f})")
        if "scan" not in skip:
            bench_scan_cost(folder, home, model, args.rounds)
        if not {"gui", "scroll"} <= skip:
            from PySide6.QtWidgets import QApplication

            from desktop import theme

            app = QApplication.instance() or QApplication(["bench"])
            theme.apply_theme(app)
            if "gui" not in skip:
                bench_gui_scan(app, folder, home, model, args.rounds)
            if "scroll" not in skip:
                bench_scroll(app, home, model, args.rows)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
