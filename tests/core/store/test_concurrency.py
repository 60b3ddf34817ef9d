"""Two app instances (or the app and a scan) on one database at once: both keep working, no decision
is lost, and nobody sees an unhandled "database is locked" (SQLite) or unique-key violation
(PostgreSQL). Every test runs on both engines."""

from __future__ import annotations

import os
import sys
import threading
import traceback

import pytest

from core.store import LABELS, open_store
from tests.core.store.helpers import fake_id, fill, item

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def _writer(role: str, url: str, root, wfd: int) -> None:
    code = 0
    try:
        store = open_store(url, backups_keep=0)
        if role == "app":  # a reviewer deciding as fast as possible
            for i in range(150):
                d = store.record_decision(fake_id(i % 50), "app", LABELS[i % 3], probability=0.5)
                os.write(wfd, f"d {d.id}\n".encode())
        else:  # a scan storing batches of results, and a second reviewer deciding in between
            for b in range(40):
                batch = [item(root / f"scan{b:02d}_{j}.png", f"s{b}-{j}", (b * 16 + j) / 640) for j in range(16)]
                store.record_scan_results(root, batch)
                os.write(wfd, f"s {len(batch)}\n".encode())
                d = store.record_decision(batch[0].image_id, "scanner-side reviewer", "doubt")
                os.write(wfd, f"d {d.id}\n".encode())
        store.close()
    except BaseException:
        traceback.print_exc()
        os.write(wfd, b"FAILED\n")
        code = 1
    finally:
        os._exit(code)


def test_two_processes_write_at_once(tmp_path, store_url):
    s = open_store(store_url, backups_keep=0)
    fill(s, tmp_path, [i / 50 for i in range(50)])
    s.close()
    url = store_url
    pipes, pids = [], []
    for role in ("app", "scan"):
        rfd, wfd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _writer(role, url, tmp_path, wfd)
        os.close(wfd)
        pipes.append(rfd)
        pids.append(pid)
    outputs = []
    for rfd, pid in zip(pipes, pids):
        chunks = []
        while chunk := os.read(rfd, 65536):
            chunks.append(chunk)
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
        out = b"".join(chunks).decode()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out
        outputs.append(out)
    decided = {int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("d ")}
    assert len(decided) == 190
    s = open_store(store_url, backups_keep=0)
    try:
        assert {d.id for d in s.all_decisions()} == decided
        assert len(s.image_rows(tmp_path)) == 50 + 40 * 16
    finally:
        s.close()


def test_threads_with_separate_engines_and_a_reader(tmp_path, store_url):
    s = open_store(store_url, backups_keep=0)
    fill(s, tmp_path, [i / 20 for i in range(20)])
    errors: list[str] = []
    ids: list[int] = []
    lock = threading.Lock()

    def writer(name: str) -> None:
        try:
            own = open_store(store_url, backups_keep=0)
            for i in range(40):
                d = own.record_decision(fake_id(i % 20), name, "fracture")
                with lock:
                    ids.append(d.id)
            own.close()
        except Exception:
            errors.append(traceback.format_exc())

    def reader() -> None:
        try:
            for _ in range(30):
                s.image_rows(tmp_path)
                s.current_labels()
        except Exception:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(2)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[0]
    assert sorted(d.id for d in s.all_decisions()) == sorted(ids) and len(ids) == 80
    s.close()


def test_two_scans_of_the_same_files_at_once(tmp_path, store_url):
    """Two scans storing the same new images, locations and predictions at the same moment: on
    PostgreSQL "look up, then insert" raced into UniqueViolation; upserts make it one row each."""
    open_store(store_url, backups_keep=0).close()
    errors: list[str] = []
    start = threading.Barrier(2)

    def scan() -> None:
        try:
            own = open_store(store_url, backups_keep=0)
            start.wait(10)
            for b in range(15):
                batch = [item(tmp_path / f"same{b:02d}_{j}.png", f"same{b}-{j}", j / 8) for j in range(8)]
                own.record_scan_results(tmp_path, batch)
                own.record_decision(batch[0].image_id, "same reader", "fracture")  # same reviewer row too
            own.close()
        except Exception:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[0]
    s = open_store(store_url, backups_keep=0)
    try:
        assert len(s.image_rows(tmp_path)) == 15 * 8
        assert s.reviewers() == ["same reader"]
        chain = s.decision_history(item(tmp_path / "x", "same0-0", 0).image_id)
        assert len(chain) == 2 and chain[1].replaces == chain[0].id  # one chain, not a fork
    finally:
        s.close()


def test_two_processes_open_a_new_database_at_once(store_url):
    """Both run the migrations' check at once; the advisory lock (PostgreSQL) or BEGIN IMMEDIATE
    (SQLite) lets the second find the schema at head instead of colliding inside Alembic."""
    pids = []
    for _ in range(3):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                open_store(store_url, backups_keep=0).close()
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "a process failed to open the new database"
    from core.store import migrate

    s = open_store(store_url, backups_keep=0)
    with s.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
    s.close()
