"""What the desktop's live updates cost: one ``Worklist.poll`` (another reader's decisions and every
claim, read every 2 s) against the baseline of re-reading the folder (``Worklist.load``, what a reload
would cost), on SQLite and on a private PostgreSQL server.

    .venv/bin/python tests/benchmarks/bench_poll.py [--images 2000] [--decisions 4000] [--repeat 20]

The database holds IMAGES scored images and DECISIONS decision events by three readers, and a few
claims. It prints the median milliseconds of: a poll with nothing new, a poll after another reader's
5 new decisions, and a full load — and the ratio poll / load. Figures, not asserts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.reading import Reading  # noqa: E402
from core.store import open_store  # noqa: E402
from core.worklist import Worklist  # noqa: E402
from tests.core.store.helpers import Thresholds, fake_id, item  # noqa: E402


def fill(store, root: Path, images: int, decisions: int, rng: random.Random) -> None:
    for start in range(0, images, 500):
        store.record_scan_results(root, [item(root / f"img{i:06d}.png", i, rng.random())
                                         for i in range(start, min(images, start + 500))])
    labels = ("fracture", "no_fracture", "doubt")
    for k in range(decisions):
        store.record_decision(fake_id(rng.randrange(images)), ("A", "B", "C")[k % 3], rng.choice(labels),
                              reading_mode="aided", shown_ms=1000)
    for i in range(5):
        store.claim("B", fake_id(i))


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench(name: str, url: str, args, root: Path) -> None:
    rng = random.Random(1)
    store = open_store(url, backups_keep=0)
    try:
        t0 = time.perf_counter()
        fill(store, root, args.images, args.decisions, rng)
        setup = time.perf_counter() - t0
        wl = Worklist(store, Thresholds(), root, "m1", Reading("A", double_reading=True))
        wl.reload()
        load = median_ms(wl.load, max(3, args.repeat // 4))
        idle = median_ms(lambda: wl.apply_update(wl.poll()), args.repeat)

        def news():
            for _ in range(5):
                store.record_decision(fake_id(rng.randrange(args.images)), "B", "fracture")
            t = time.perf_counter()
            wl.apply_update(wl.poll())
            return (time.perf_counter() - t) * 1000

        busy = statistics.median(news() for _ in range(args.repeat))
        print(f"{name}: {args.images:,} images, {args.decisions:,} decisions (filled in {setup:.1f} s); "
              f"full load (baseline) {load:.1f} ms; poll, nothing new {idle:.2f} ms ({idle / load:.3f}× the load); "
              f"poll after 5 new decisions {busy:.2f} ms ({busy / load:.3f}× the load)")
    finally:
        store.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--decisions", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ft-bench-poll-"))
    bench("SQLite", f"sqlite:///{tmp / 'labels.db'}", args, tmp / "xrays")
    from tests.pgcluster import PgCluster

    cluster, why = PgCluster.find()
    if cluster is None:
        print(f"PostgreSQL: skipped ({why})")
        return 0
    try:
        cluster.start()
        bench("PostgreSQL", cluster.create_database(), args, tmp / "xrays")
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
