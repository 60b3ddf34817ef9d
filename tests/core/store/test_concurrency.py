"""Two app instances (or the app and a scan) on one database at once: both keep working, no decision
is lost, and nobody sees an unhandled "database is locked"."""

from __future__ import annotations

import os
import sys
import threading
import traceback

import pytest

from core.store import LABELS, open_store
from tests.core.store.helpers import db_url, fake_id, fill, item, open_test_store

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


def test_two_processes_write_at_once(tmp_path):
    s = open_test_store(tmp_path)
    fill(s, tmp_path, [i / 50 for i in range(50)])
    s.close()
    url = db_url(tmp_path)
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
    s = open_test_store(tmp_path)
    try:
        assert {d.id for d in s.all_decisions()} == decided
        assert len(s.image_rows(tmp_path)) == 50 + 40 * 16
    finally:
        s.close()


def test_threads_with_separate_engines_and_a_reader(tmp_path):
    s = open_test_store(tmp_path)
    fill(s, tmp_path, [i / 20 for i in range(20)])
    errors: list[str] = []
    ids: list[int] = []
    lock = threading.Lock()

    def writer(name: str) -> None:
        try:
            own = open_store(db_url(tmp_path), backups_keep=0)
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
