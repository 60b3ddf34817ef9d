"""Start-up of the headless commands and whole-process scan speed (a script, not a test).

1. ``fracture-triage scan EMPTY_FOLDER`` (with a database: settings, store open, migrations check,
   model session), as a whole new process, N times: median wall time and CPU time; beside it a bare
   ``python -c pass`` as the floor nothing can beat.
2. Whole process on full-size JPEGs (the FracAtlas-based set of ``bench_scan.py``): ``fracture-triage
   scan FOLDER --no-store`` against a naive loop in its own process (read, full-size decode,
   letterbox, batch-1 inference, one file after another, the same model), interleaved rounds, best
   of each: the ratio includes every second of start-up.

    .venv/bin/python tests/benchmarks/bench_startup.py [--runs 7] [--images 300] [--rounds 2]

Targets (issue 15): start-up ≤ 0.4 s, whole-process ratio ≥ 2.2×. On a shared machine compare only
figures from one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parents[2])  # BENCH_ROOT: another checkout
sys.path.insert(0, str(ROOT))

CLI = "import sys; from desktop.launcher import main; sys.exit(main())"
NAIVE = """
import sys, time
from pathlib import Path
from core.imaging.reader import read_image
from core.imaging.preprocess import letterbox, to_tensor
from core.model import load_model
from core.discovery import discover
model = load_model(None)
size = model.input_size
for f in discover(Path(sys.argv[1])):
    grey = read_image(f.path.read_bytes(), name=f.path.name).grey
    canvas, _ = letterbox(grey, size)
    model.predict(to_tensor(canvas), with_cam=False)
"""


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--images", type=int, default=300, help="full-size JPEGs for the whole-process ratio (0: skip)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FRACTURE_TRIAGE_HOME": str(tmp / "home")}
    # an installed app runs from compiled bytecode (wheel install, PyInstaller's archive): let the
    # checkout's __pycache__ be written and used, as it would be, instead of compiling every start
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    empty = tmp / "empty"
    empty.mkdir()
    db = f"sqlite:///{tmp / 'db.sqlite3'}"
    py = sys.executable
    timed([py, "-c", CLI, "scan", str(empty), "--db", db], env)  # creates the database, warms the caches
    floor = [timed([py, "-c", "pass"], env) for _ in range(args.runs)]
    start = [timed([py, "-c", CLI, "scan", str(empty), "--db", db], env) for _ in range(args.runs)]
    print(f"load average {os.getloadavg()[0]:.1f}; {args.runs} runs each, median (wall / CPU):")
    print(f"  python -c pass                      {statistics.median(w for w, _ in floor):.3f} s / "
          f"{statistics.median(c for _, c in floor):.3f} s")
    print(f"  fracture-triage scan EMPTY --db ... {statistics.median(w for w, _ in start):.3f} s / "
          f"{statistics.median(c for _, c in start):.3f} s   (target ≤ 0.4 s)")
    if args.images <= 0:
        return 0
    from tests.benchmarks.bench_scan import SHARED, make_fullres

    if not (SHARED / "fracatlas").exists():
        print("whole-process ratio skipped: ../shared/data (FracAtlas) not present")
        return 0
    folder = tmp / "fullres"
    make_fullres(folder, args.images)
    n = sum(1 for _ in folder.rglob("*.jpg"))
    best_scan = best_naive = float("inf")
    for _ in range(args.rounds):
        best_naive = min(best_naive, timed([py, "-c", NAIVE, str(folder)], env)[0])
        best_scan = min(best_scan, timed([py, "-c", CLI, "scan", str(folder), "--no-store"], env)[0])
    print(f"whole process on {n} full-size JPEGs, best of {args.rounds}: naive {best_naive:.2f} s "
          f"({n / best_naive:.1f}/s), scan {best_scan:.2f} s ({n / best_scan:.1f}/s): "
          f"scan/naive = {best_naive / best_scan:.2f}x   (target ≥ 2.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
