"""Evidence for several readers on one PostgreSQL server: two scans and two readers write at the same
time while one of the four is SIGKILLed at random moments and restarted; afterwards nothing that was
acknowledged is missing, no event is stored twice, and the agreement report's Cohen's κ equals
scikit-learn's on the same readings.

    .venv/bin/python tests/benchmarks/kill_pg.py [--images 300] [--kills 40] [--seed 1]

It starts its own server (``tests/pgcluster.py``: initdb into a temporary folder, Unix socket only,
fsync on) and needs Debian's ``postgresql`` package (as root, the ``postgres`` user runs the server).
Scans store results in batches of 8 through ``Store.record_scan_results`` (the scan recorder's call).
Each reader imports their labels with ``core.importing.import_labels`` — what ``fracture-triage
import-labels`` runs — from CSV files of 10 rows, both readers over the same images at the same time;
a restarted reader imports again from the start of the file it was killed in, so rows committed but
not yet acknowledged are met again and must be recognised as already recorded, never stored twice.
A writer reports a batch, or a file's imported rows, on its pipe only after the call returned
(committed). Prints the figures; exit status 1 on any loss or duplicate.
"""

from __future__ import annotations

import argparse
import os
import random
import select
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.importing import import_labels  # noqa: E402
from core.store import open_store  # noqa: E402
from tests.core.store.helpers import fake_id, item  # noqa: E402

LABELS = ("fracture", "no_fracture", "doubt")
CSV_ROWS = 10  # rows per import file


def planned_label(reader: str, i: int, seed: int) -> str:
    """What ``reader`` decides for image ``i``: the truth most of the time (readers agree partly)."""
    rnd = random.Random(f"{seed}-{i}")
    truth = "fracture" if rnd.random() < 0.35 else "no_fracture"
    r = random.Random(f"{seed}-{reader}-{i}").random()
    if r < 0.8:
        return truth
    return "doubt" if r < 0.9 else ("no_fracture" if truth == "fracture" else "fracture")


def _scan_child(url: str, which: int, start: int, n: int, wfd: int) -> None:
    code = 0
    try:
        store = open_store(url, backups_keep=0)
        root = Path(f"/clinic/scan{which}")
        for b in range(start, n, 8):
            batch = [item(root / f"img{i:05d}.png", i, (i % 97) / 97) for i in range(b, min(b + 8, n))]
            store.record_scan_results(root, batch)
            os.write(wfd, f"s {b}\n".encode())
        store.close()
    except BaseException as exc:  # noqa: BLE001
        os.write(wfd, f"E {type(exc).__name__}: {exc}\n".encode()[:400])
        code = 1
    finally:
        os._exit(code)


def csv_files(folder: Path, reader: str, n: int, seed: int) -> None:
    """The reader's labels of images 0..n-1 (scan 0's paths) as import files of ``CSV_ROWS`` rows."""
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, n, CSV_ROWS):
        rows = [f"/clinic/scan0/img{i:05d}.png,{planned_label(reader, i, seed)}"
                for i in range(start, min(start + CSV_ROWS, n))]
        (folder / f"{reader}-{start:05d}.csv").write_text("path,label\n" + "\n".join(rows) + "\n")


def _reader_child(url: str, reader: str, start: int, n: int, seed: int, wfd: int, folder: Path) -> None:
    code = 0
    try:
        store = open_store(url, backups_keep=0)
        for first in range(start - start % CSV_ROWS, n, CSV_ROWS):
            report = import_labels(store, folder / f"{reader}-{first:05d}.csv", reader)
            bad = {line for line, _ in report.skipped}
            for line, why in report.skipped:
                os.write(wfd, f"E import {reader}-{first:05d}.csv line {line}: {why}\n".encode()[:400])
            for k, i in enumerate(range(first, min(first + CSV_ROWS, n))):
                if k + 2 not in bad:  # line 1 is the header
                    os.write(wfd, f"d {i}\n".encode())
        store.close()
    except BaseException as exc:  # noqa: BLE001
        os.write(wfd, f"E {type(exc).__name__}: {exc}\n".encode()[:400])
        code = 1
    finally:
        os._exit(code)


class Writer:
    """One child process and what it has acknowledged; restartable after a kill."""

    def __init__(self, name: str, kind: str, url: str, n: int, seed: int, folder: Path | None = None) -> None:
        self.name, self.kind, self.url, self.n, self.seed, self.folder = name, kind, url, n, seed, folder
        self.acked: set[int] = set()
        self.next = 0
        self.pid = self.fd = None
        self.buf = b""
        self.errors: list[str] = []

    def start(self) -> None:
        rfd, wfd = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            if self.kind == "scan":
                _scan_child(self.url, int(self.name[-1]), self.next, self.n, wfd)
            else:
                _reader_child(self.url, self.name, self.next, self.n, self.seed, wfd, self.folder)
        os.close(wfd)
        self.pid, self.fd = pid, rfd

    def read(self) -> None:
        chunk = os.read(self.fd, 65536)
        if not chunk:
            os.close(self.fd)
            os.waitpid(self.pid, 0)
            self.pid = self.fd = None
            return
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            parts = line.decode().split()
            if parts[0] == "E":
                self.errors.append(line.decode())
            elif parts[0] in ("s", "d"):
                k = int(parts[1])
                self.acked.add(k)
                self.next = max(self.next, k + (8 if parts[0] == "s" else 1))

    def kill(self) -> None:
        if self.pid is None:
            return
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        while True:  # what it acknowledged before dying
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                break
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        self.buf = b""
        for line in lines:
            parts = line.decode().split()
            if parts and parts[0] in ("s", "d"):
                k = int(parts[1])
                self.acked.add(k)
                self.next = max(self.next, k + (8 if parts[0] == "s" else 1))
        os.close(self.fd)
        self.pid = self.fd = None

    @property
    def done(self) -> bool:
        return self.pid is None and self.next >= self.n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--kills", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    from sqlalchemy import create_engine, text

    from tests.pgcluster import PgCluster

    cluster, why = PgCluster.find()
    if cluster is None:
        print(f"cannot start a PostgreSQL server here: {why}")
        return 2
    cluster.start(fsync=True)
    t0 = time.monotonic()
    try:
        url = cluster.create_database("killtest")
        open_store(url, backups_keep=0).close()
        n = args.images
        writers = [Writer("scan1", "scan", url, n, args.seed), Writer("scan2", "scan", url, n, args.seed)]
        # readers need the images: scan 1 stores them all first, then everything runs at once
        first = Writer("scan0", "scan", url, n, args.seed)
        first.start()
        while first.pid is not None:
            first.read()
        folder = Path(tempfile.mkdtemp(prefix="ft-kill-csv-"))
        for reader in ("A", "B"):
            csv_files(folder, reader, n, args.seed)
        writers += [Writer(r, "reader", url, n, args.seed, folder) for r in ("A", "B")]
        rnd = random.Random(args.seed)
        kills = 0
        for w in writers:
            w.start()
        next_kill = time.monotonic() + rnd.uniform(0.05, 0.4)
        while not all(w.done for w in writers):
            live = [w for w in writers if w.pid is not None]
            for w in writers:
                if w.pid is None and not w.done:
                    w.start()
                    live.append(w)
            ready, _, _ = select.select([w.fd for w in live], [], [], 0.02)
            for w in live:
                if w.fd in ready:
                    w.read()
            if kills < args.kills and time.monotonic() >= next_kill:
                victims = [w for w in writers if w.pid is not None]
                if victims:
                    rnd.choice(victims).kill()
                    kills += 1
                next_kill = time.monotonic() + rnd.uniform(0.05, 0.4)
        elapsed = time.monotonic() - t0
        errors = [e for w in writers for e in w.errors]

        engine = create_engine(url)
        with engine.connect() as conn:
            events = conn.execute(text("SELECT d.uid, r.name, d.image_id FROM decision d JOIN reviewer r "
                                       "ON r.id = d.reviewer_id WHERE d.kind = 'decide'")).all()
            locations = {p for (p,) in conn.execute(text("SELECT path FROM location"))}
        engine.dispose()
        by_uid = {}
        for uid, reader, image_id in events:
            by_uid.setdefault(uid, []).append((reader, image_id))
        readings = {(r, i) for _, r, i in events}
        duplicates = sum(len(v) - 1 for v in by_uid.values()) + (len(events) - len(readings))
        lost = 0
        for w in writers:
            for k in w.acked:
                if w.kind == "reader":
                    lost += (w.name, fake_id(k)) not in readings
                else:
                    root = f"/clinic/scan{w.name[-1]}"
                    lost += any(f"{root}/img{i:05d}.png" not in locations for i in range(k, min(k + 8, n)))
        store = open_store(url, backups_keep=0)
        from core.agreement import agreement_report, cohen_kappa
        from core.cli.agreement_cmd import collect

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
        ours = report.pairs["A | B"].value
        acked_decisions = sum(len(w.acked) for w in writers if w.kind == "reader")
        print(f"images {n}, writers 4 (2 scans, 2 readers' imports of {CSV_ROWS}-row files), SIGKILLs {kills}, "
              f"wall {elapsed:.1f} s")
        print(f"decision events stored {len(events)} (expected {2 * n}), acknowledged {acked_decisions}, "
              f"lost {lost}, duplicated {duplicates}; writer errors {len(errors)}")
        print(f"Cohen's kappa A|B: store {ours:.6f}, scikit-learn {sk:.6f} (n={report.pairs['A | B'].n}); "
              f"Fleiss {report.fleiss.text(3)}")
        for e in errors[:5]:
            print(f"  writer error: {e}")
        ok = lost == 0 and duplicates == 0 and len(events) == 2 * n and abs(ours - sk) < 1e-9
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
