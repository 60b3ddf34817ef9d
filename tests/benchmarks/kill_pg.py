"""Evidence for several readers on one PostgreSQL server: two real ``fracture-triage scan FOLDER --db
URL`` processes and two readers' real ``fracture-triage import-labels`` processes write at the same
time while one of the four is SIGKILLed at random moments and started again; afterwards every file
is in the database exactly once, nothing that was acknowledged is missing, no decision event is
stored twice, and the agreement report's Cohen's κ equals scikit-learn's on the same readings.

    .venv/bin/python tests/benchmarks/kill_pg.py [--images 60] [--kills 12] [--rows 20] [--seed 1]

It starts its own server (``tests/pgcluster.py``: initdb into a temporary folder, Unix socket only,
fsync on) and needs Debian's ``postgresql`` package (as root, the ``postgres`` user runs the server).
The images are generated on the fly (64×64 grey PNGs, a temporary folder): ``scan0`` (the readers'
images, scanned first, never killed), ``scan1`` and ``scan2`` (``--images`` each; a quarter of
``scan2``'s files are byte-for-byte copies of ``scan1``'s, so both scans store the same image at the
same time). Each scan process scores its folder with the installed model (``--workers 1 --threads
1``); a killed scan is run again on its folder until it exits 0 (what it stored is recognised as
known, the rest scored). Each reader imports their labels of ``scan0`` from CSV files of ``--rows``
rows, one ``import-labels`` process per file, both readers over the same images at the same time; a
killed import is run again on the same file, so rows it committed before dying are met again and must
be recognised as already recorded, never stored twice. A kill aimed at an import waits, with chance
``--mid-import``, until that process has committed a row of its file (the parent watches the reader's
count of stored decisions), so this case is met in every run rather than by luck. Acknowledged: a scan process that exited 0
(its whole folder), an import process that exited 0 and printed its counts (every row of its file).
Every process gets its own app home (``FRACTURE_TRIAGE_HOME``, temporary). Prints the figures and the
checks; exit status 1 on any loss, duplicate or mismatch.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

LABELS = ("fracture", "no_fracture", "doubt")
IMPORTED = re.compile(r"imported (\d+) labels, (\d+) already recorded, (\d+) rows skipped")


def planned_label(reader: str, i: int, seed: int) -> str:
    """What ``reader`` decides for image ``i``: the truth most of the time (readers agree partly)."""
    rnd = random.Random(f"{seed}-{i}")
    truth = "fracture" if rnd.random() < 0.35 else "no_fracture"
    r = random.Random(f"{seed}-{reader}-{i}").random()
    if r < 0.8:
        return truth
    return "doubt" if r < 0.9 else ("no_fracture" if truth == "fracture" else "fracture")


def make_images(base: Path, n: int, seed: int) -> dict[str, list[Path]]:
    """The three folders of generated PNGs (see the module docstring)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    folders: dict[str, list[Path]] = {}
    for name in ("scan0", "scan1", "scan2"):
        d = base / name
        d.mkdir(parents=True)
        files = []
        for i in range(n):
            p = d / f"img{i:05d}.png"
            if name == "scan2" and i < n // 4:
                shutil.copyfile(folders["scan1"][i * 2 % n], p)  # the same image, found by both scans
            else:
                level = rng.integers(30, 220)
                a = np.clip(rng.normal(level, 25, (64, 64)), 0, 255).astype(np.uint8)
                Image.fromarray(a).save(p)
            files.append(p)
        folders[name] = files
    return folders


def csv_files(folder: Path, reader: str, images: list[Path], rows: int, seed: int) -> list[tuple[Path, list[int]]]:
    """The reader's labels of ``images`` as import files of ``rows`` rows: [(file, image indices)]."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for start in range(0, len(images), rows):
        idx = list(range(start, min(start + rows, len(images))))
        body = "".join(f"{images[i]},{planned_label(reader, i, seed)}\n" for i in idx)
        f = folder / f"{reader}-{start:05d}.csv"
        f.write_text("path,label\n" + body)
        out.append((f, idx))
    return out


def cli() -> list[str]:
    """How to run ``fracture-triage``: the venv's console script, else its entry point."""
    script = Path(sys.executable).parent / "fracture-triage"
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from desktop.launcher import main; sys.exit(main())"]


class Worker:
    """One of the four writers: a queue of commands run one process at a time, each run again after a
    SIGKILL until it exits; what exited 0 is acknowledged."""

    def __init__(self, name: str, jobs: list[tuple[list[str], object]], env: dict, out: Path,
                 progress=None) -> None:  # noqa: ANN001
        self.name, self.jobs, self.env = name, jobs, env
        self.progress = progress  # rows stored so far (imports), read when a process starts
        self.count_at_start = 0
        self.index = 0  # the job being run
        self.proc: Optional[subprocess.Popen] = None
        self.out_path = out / f"{name}.out"
        self.acked: list[tuple[object, str]] = []  # (job payload, its output)
        self.failures: list[str] = []  # exited non-zero without being killed
        self.starts = self.kills = 0

    @property
    def done(self) -> bool:
        return self.index >= len(self.jobs)

    def start(self) -> None:
        argv, _ = self.jobs[self.index]
        self.count_at_start = self.progress() if self.progress is not None else 0
        self._out = open(self.out_path, "w+b")  # noqa: SIM115 - closed in poll/kill
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, env=self.env, cwd=str(ROOT))
        self.starts += 1

    def poll(self) -> None:
        if self.proc is None:
            if not self.done:
                self.start()
            return
        rc = self.proc.poll()
        if rc is None:
            return
        self._out.seek(0)
        text = self._out.read().decode("utf-8", "replace")
        self._out.close()
        self.proc = None
        if rc == 0:
            self.acked.append((self.jobs[self.index][1], text))
            self.index += 1
        elif rc == -signal.SIGKILL:
            pass  # killed by us: the same job again
        else:
            self.failures.append(f"{self.name} job {self.index} exit {rc}: {text.strip()[-300:]}")
            self.index += 1

    def kill(self) -> bool:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.kills += 1
            return True
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=60, help="files per scanned folder (default 60)")
    ap.add_argument("--kills", type=int, default=12, help="SIGKILLs in all (default 12)")
    ap.add_argument("--rows", type=int, default=20, help="rows per import file (default 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mid-import", type=float, default=0.5, metavar="P",
                    help="the chance that a kill aimed at an import waits until that process has committed a row "
                    "of its file (killed between two rows' commits, so the run again meets them; default 0.5)")
    ap.add_argument("--kill-every", type=float, nargs=2, default=(0.5, 4.0), metavar=("MIN_S", "MAX_S"),
                    help="a kill at a random moment this many seconds after the last (default 0.5 4.0)")
    args = ap.parse_args(argv)

    from sqlalchemy import create_engine, text

    from tests.pgcluster import PgCluster

    cluster, why = PgCluster.find()
    if cluster is None:
        print(f"cannot start a PostgreSQL server here: {why}")
        return 2
    cluster.start(fsync=True)
    base = Path(tempfile.mkdtemp(prefix="ft-kill-"))
    t0 = time.monotonic()
    workers: list[Worker] = []
    try:
        url = cluster.create_database("killtest")
        n, rnd = args.images, random.Random(args.seed)
        folders = make_images(base / "images", n, args.seed)
        env = {**os.environ, "FRACTURE_TRIAGE_HOME": str(base / "home"), "PYTHONPATH": str(ROOT)}
        env.pop("FRACTURE_TRIAGE_DB", None)
        ft = cli()

        def scan(name: str) -> tuple[list[str], object]:
            return [*ft, "scan", str(base / "images" / name), "--db", url, "--workers", "1", "--threads", "1"], name

        first = Worker("scan0", [scan("scan0")], env, base)  # the readers' images: stored before anything else
        while not first.done:
            first.poll()
            time.sleep(0.05)
        if first.failures:
            print("the first scan failed:", first.failures[0])
            return 1
        t_first = time.monotonic() - t0
        imports = {r: csv_files(base / "csv", r, folders["scan0"], args.rows, args.seed) for r in ("A", "B")}
        workers += [Worker("scan1", [scan("scan1")], env, base), Worker("scan2", [scan("scan2")], env, base)]
        watch = create_engine(url)  # the parent's own look at the readers' progress (mid-import kills)

        def stored(reader: str) -> int:
            with watch.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM decision d JOIN reviewer r ON r.id = d.reviewer_id "
                                             "WHERE r.name = :r"), {"r": reader}).scalar())

        workers += [Worker(r, [([*ft, "import-labels", "--db", url, "--reviewer", r, str(f)], idx)
                               for f, idx in imports[r]], env, base, progress=lambda r=r: stored(r)) for r in ("A", "B")]
        t1 = time.monotonic()
        next_kill = t1 + rnd.uniform(*args.kill_every)
        kills = mid_import = 0
        armed: Optional[tuple[Worker, object, int]] = None  # an import to kill once it committed a row
        while not all(w.done for w in workers):
            for w in workers:
                w.poll()
            if armed is not None:
                w, proc, before = armed
                if w.proc is not proc:
                    armed = None  # it finished first: the kill goes elsewhere next time
                elif stored(w.name) > before:
                    if w.kill():
                        kills, mid_import = kills + 1, mid_import + 1
                    armed = None
                    next_kill = time.monotonic() + rnd.uniform(*args.kill_every)
            elif kills < args.kills and time.monotonic() >= next_kill:
                running = [w for w in workers if w.proc is not None and w.proc.poll() is None]
                if running:
                    victim = rnd.choice(running)
                    if victim.name in ("A", "B") and rnd.random() < args.mid_import:
                        armed = (victim, victim.proc, victim.count_at_start)
                    elif victim.kill():
                        kills += 1
                next_kill = time.monotonic() + rnd.uniform(*args.kill_every)
            time.sleep(0.05 if armed is not None else 0.02)
        watch.dispose()
        elapsed = time.monotonic() - t1
        failures = [f for w in workers for f in w.failures]

        # ---------------------------------------------------------------- what the database holds
        engine = create_engine(url)
        with engine.connect() as conn:
            locations = conn.execute(text("SELECT path, image_id FROM location")).all()
            predicted = {i for (i,) in conn.execute(text("SELECT DISTINCT image_id FROM prediction"))}
            images = {i for (i,) in conn.execute(text("SELECT id FROM image"))}
            scan_errors = conn.execute(text("SELECT count(*) FROM scan_error")).scalar()
            events = conn.execute(text("SELECT d.uid, r.name, d.image_id, d.label FROM decision d JOIN reviewer r "
                                       "ON r.id = d.reviewer_id WHERE d.kind = 'decide'")).all()
        engine.dispose()
        files = [p for name in ("scan0", "scan1", "scan2") for p in folders[name]]
        content = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        per_path: dict[str, list[str]] = {}
        for path, image_id in locations:
            per_path.setdefault(path, []).append(image_id)
        missing_files = sum(1 for p in content if p not in per_path)
        twice = sum(len(v) - 1 for v in per_path.values())
        wrong = sum(1 for p, ids in per_path.items() if p in content and ids[0] != content[p])
        extra = sum(1 for p in per_path if p not in content)
        unscored = len(set(content.values()) - predicted)
        scans_acked = sum(len(w.acked) for w in workers if w.name.startswith("scan")) + len(first.acked)
        lost_scanned = sum(1 for w in [first, *workers] if w.name.startswith("scan") for name, _ in w.acked
                           for p in folders[name] if str(p) not in per_path)

        by_uid: dict[str, int] = {}
        for uid, *_ in events:
            by_uid[uid] = by_uid.get(uid, 0) + 1
        readings: dict[tuple[str, str], str] = {}
        for _, reader, image_id, label in events:
            readings[(reader, image_id)] = label
        duplicated = sum(c - 1 for c in by_uid.values()) + (len(events) - len(readings))
        id0 = [content[str(p)] for p in folders["scan0"]]
        acked_rows = lost_rows = already = 0
        for w in workers:
            if w.name not in ("A", "B"):
                continue
            for idx, out in w.acked:
                m = IMPORTED.search(out)
                if m is None or int(m.group(3)):
                    failures.append(f"{w.name}: unexpected import output: {out.strip()[-200:]}")
                    continue
                already += int(m.group(2))
                for i in idx:
                    acked_rows += 1
                    lost_rows += readings.get((w.name, id0[i])) != planned_label(w.name, i, args.seed)

        from core.agreement import agreement_report, cohen_kappa
        from core.cli.agreement_cmd import collect
        from core.store import open_store

        store = open_store(url, backups_keep=0)
        report = agreement_report(*collect(store))
        store.close()
        a = [planned_label("A", i, args.seed) for i in range(n)]
        b = [planned_label("B", i, args.seed) for i in range(n)]
        try:
            from sklearn.metrics import cohen_kappa_score

            sk = float(cohen_kappa_score(a, b, labels=list(LABELS)))
        except ImportError:
            sk = cohen_kappa(a, b)
            print("note: scikit-learn not installed; compared with core.agreement's own formula")
        pair = report.pairs.get("A | B")
        ours = pair.value if pair is not None else float("nan")

        starts = {w.name: w.starts for w in workers}
        killed = {w.name: w.kills for w in workers}
        print(f"files {len(files)} (3 folders of {n}; {n // 4} of scan2's are copies of scan1's), images "
              f"{len(images)} (expected {len(set(content.values()))}); the first scan {t_first:.1f} s")
        print(f"then 4 writers at once (2 scan processes, 2 readers' import-labels processes over {args.rows}-row "
              f"files): {elapsed:.1f} s, SIGKILLs {kills} {killed} ({mid_import} of an import after it had committed "
              f"a row of its file), processes started {starts}")
        print(f"scans: files in the database {len(per_path)} of {len(files)}: missing {missing_files}, "
              f"stored twice {twice}, wrong image {wrong}, unexpected {extra}; images without a score "
              f"{unscored}; scan errors {scan_errors}; acknowledged scans {scans_acked}, files of them lost "
              f"{lost_scanned}")
        print(f"imports: decision events {len(events)} (expected {2 * n}), acknowledged rows {acked_rows}, lost "
              f"{lost_rows}, duplicated {duplicated}; rows met again after a kill and recognised {already}")
        print(f"Cohen's kappa A|B: store {ours:.6f}, scikit-learn {sk:.6f} (n={pair.n if pair else 0}); "
              f"Fleiss {report.fleiss.text(3)}")
        for f in failures[:5]:
            print(f"  failure: {f}")
        ok = (not failures and missing_files == twice == wrong == extra == unscored == lost_scanned == 0
              and scan_errors == 0 and len(images) == len(set(content.values()))
              and lost_rows == duplicated == 0 and len(events) == 2 * n and acked_rows == 2 * n
              and abs(ours - sk) < 1e-9)
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        for w in workers:
            w.kill()  # (only if this script stops early: by now every one has exited)
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
