"""Durability under SIGKILL, on SQLite and on PostgreSQL: a child process records decisions and
reports each id only after ``record_decision`` returned; once it has saved at least one, the parent
kills it at a random moment (60 trials) and checks that every reported decision is in the database, no event is stored twice,
and (SQLite) ``PRAGMA integrity_check`` is ok.

The child is forked from the test process (modules already imported), so a trial costs its random
run time (20–200 ms) plus opening the store, not a Python start-up."""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import sys
import time
import traceback

import pytest

from sqlalchemy import create_engine, text

from core.store import LABELS, open_store
from tests.core.store.helpers import fake_id, fill

TRIALS = 60

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def _child(url: str, image_ids: list[str], wfd: int, seed: int) -> None:
    code = 0
    try:
        rnd = random.Random(seed)
        store = open_store(url, backups_keep=0)
        os.write(wfd, b"ready\n")
        i = 0
        while True:
            d = store.record_decision(
                rnd.choice(image_ids), f"child{seed % 3}", LABELS[i % 3], model_version="m1", probability=rnd.random()
            )
            os.write(wfd, f"{d.id}\n".encode())  # reported only after the call returned
            i += 1
            if i % 7 == 0:
                u = store.undo_last(f"child{seed % 3}")
                if u is not None:
                    os.write(wfd, f"{u.id}\n".encode())
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _read_some(fd: int, buf: bytearray, until: float | None) -> bool:
    """Read one chunk (waiting at most until ``until``; None: as long as needed); False at EOF."""
    timeout = None if until is None else max(0.0, until - time.monotonic())
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return True
    chunk = os.read(fd, 65536)
    if not chunk:
        return False
    buf.extend(chunk)
    return True


def _present(url: str, tmp_path) -> set[int]:
    """Ids in the database, read without the app's code; fails on a damaged file or a duplicate uid."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(tmp_path / "labels.db")
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = con.execute("SELECT id, uid FROM decision").fetchall()
        finally:
            con.close()
    else:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, uid FROM decision")).fetchall()
        finally:
            engine.dispose()
    assert len({uid for _, uid in rows}) == len(rows), "an event was stored twice"
    return {r[0] for r in rows}


def test_decisions_survive_sigkill(tmp_path, store_url):
    s = open_store(store_url, backups_keep=0)
    fill(s, tmp_path, [i / 40 for i in range(40)])
    s.close()
    url = store_url
    image_ids = [fake_id(i) for i in range(40)]
    reported: set[int] = set()
    rnd = random.Random(1234)
    for trial in range(TRIALS):
        rfd, wfd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _child(url, image_ids, wfd, trial)
        os.close(wfd)
        buf = bytearray()
        try:
            deadline = time.monotonic() + 20
            while b"ready\n" not in buf:  # wait until the store is open
                assert _read_some(rfd, buf, deadline), buf.decode(errors="replace")
                assert time.monotonic() < deadline, "child did not open the store"
            # Kill only once the child has saved something (a loaded machine may take longer than the
            # random delay to get the first write done), then at a random moment of its writing.
            while not any(line.isdigit() for line in buf.decode().split("\n")[:-1]):
                assert _read_some(rfd, buf, deadline), buf.decode(errors="replace")
                assert time.monotonic() < deadline, "child saved nothing within 20 s"
            kill_at = time.monotonic() + rnd.uniform(0.02, 0.2)
            while time.monotonic() < kill_at and _read_some(rfd, buf, kill_at):
                pass
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status), f"child ended on its own (status {status}): see stderr"
            while _read_some(rfd, buf, None):  # drain what it reported before dying
                pass
        finally:
            os.close(rfd)
        ids = {int(x) for x in buf.decode().split() if x.isdigit()}
        reported |= ids
        present = _present(url, tmp_path)
        missing = reported - present
        assert not missing, f"trial {trial}: decisions reported as saved but lost: {sorted(missing)[:10]}"
    assert len(reported) >= TRIALS  # every child was killed while writing, after saving at least one
    s = open_store(url, backups_keep=0)  # and the app opens it normally afterwards
    assert len(s.all_decisions()) >= len(reported)
    s.close()
