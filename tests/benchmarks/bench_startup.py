"""Start-up of the headless commands and whole-process scan speed (a script, not a test).

1. ``fracture-triage scan EMPTY_FOLDER`` (with a database: settings, store open, migrations check,
   model card), ``fracture-triage --help`` and ``scan --help``, each as a whole new process, N times
   interleaved: min and median wall time and CPU time; beside them, in the same rounds, a bare
   ``python -c pass`` (the floor nothing can beat), ``python -c "import sqlalchemy"`` (what opening
   any database costs) and ``python -c "import sqlmodel"`` (the store's tables are SQLModel classes:
   the floor of any command that opens the store), and the start-up as a multiple of each: on a
   loaded machine compare those ratios.
2. Whole process on full-size JPEGs (the FracAtlas-based set of ``bench_scan.py``): ``fracture-triage
   scan FOLDER --no-store`` against a naive loop in its own process (read, full-size decode,
   letterbox, batch-1 inference, one file after another, the same model), interleaved rounds, best
   of each: the ratio includes every second of start-up.

    .venv/bin/python tests/benchmarks/bench_startup.py [--runs 11] [--images 300] [--rounds 2]

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


def timed(cmd, env: dict) -> tuple[float, float]:  # noqa: ANN001
    if isinstance(cmd, tuple):  # (command, its own environment)
        cmd, env = cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=env["PYTHONPATH"])  # cwd: -c puts it first
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--images", type=int, default=300, help="full-size JPEGs for the whole-process ratio (0: skip)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT", help="also time scan EMPTY from another checkout "
                    "(e.g. an older commit in a git worktree), in the same interleaved rounds")
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
    cases = {
        "python -c pass": [py, "-c", "pass"],
        'python -c "import sqlalchemy"': [py, "-c", "import sqlalchemy"],
        'python -c "import sqlmodel"': [py, "-c", "import sqlmodel"],
        "fracture-triage --help": [py, "-c", CLI, "--help"],
        "fracture-triage scan --help": [py, "-c", CLI, "scan", "--help"],
        "fracture-triage scan EMPTY --db ...": [py, "-c", CLI, "scan", str(empty), "--db", db],
    }
    if args.compare is not None:
        other = {**env, "PYTHONPATH": str(args.compare.resolve())}
        db2 = f"sqlite:///{tmp / 'db-compare.sqlite3'}"  # its own database: an older schema may differ
        timed(([py, "-c", CLI, "scan", str(empty), "--db", db2], other), env)
        cases[f"scan EMPTY --db ... ({args.compare.name})"] = ([py, "-c", CLI, "scan", str(empty), "--db", db2], other)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    load0 = os.getloadavg()[0]
    for _ in range(args.runs):  # interleaved: every case sees the same load
        for name, cmd in cases.items():
            times[name].append(timed(cmd, env))
    print(f"load average {load0:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.runs} runs each, "
          "wall min / median, CPU min / median:")
    for name, t in times.items():
        w, c = [x for x, _ in t], [x for _, x in t]
        print(f"  {name:36s} {min(w):6.3f} / {statistics.median(w):6.3f} s   {min(c):6.3f} / {statistics.median(c):6.3f} s")
    scan_t = times["fracture-triage scan EMPTY --db ..."]
    for base in ("python -c pass", 'python -c "import sqlalchemy"', 'python -c "import sqlmodel"'):
        b = times[base]
        print(f"  scan EMPTY / {base}: wall {statistics.median(w for w, _ in scan_t) / statistics.median(w for w, _ in b):.2f}x,"
              f" CPU {statistics.median(c for _, c in scan_t) / statistics.median(c for _, c in b):.2f}x (medians)")
    floor = statistics.median(w for w, _ in times['python -c "import sqlmodel"'])
    print(f"  scan EMPTY beyond importing SQLModel: {statistics.median(w for w, _ in scan_t) - floor:.3f} s wall (medians)")
    print("  (target: scan EMPTY ≤ 0.4 s wall on a quiet machine)")
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
