"""``fracture-triage scan --watch FOLDER`` as a real subprocess: the folder is scanned, a file copied
in afterwards is scored and printed, SIGINT stops it with status 0 and everything scored is stored.
Waits on the process's own output lines (a reader thread), never on sleeps."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.cli import main
from tests.core.test_discovery import jpeg_bytes

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from desktop.launcher import main; sys.exit(main())"


def lines_of(proc) -> "queue.Queue[str]":
    q: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            q.put(line.rstrip("\n"))
        q.put("<eof>")

    threading.Thread(target=pump, daemon=True).start()
    return q


def wait_for(q, needle: str, timeout: float = 180.0) -> list[str]:
    seen = []
    while True:
        line = q.get(timeout=timeout)
        seen.append(line)
        if needle in line or line == "<eof>":
            assert needle in line, f"{needle!r} never printed; got:\n" + "\n".join(seen)
            return seen


def test_watch_scores_new_files_and_stops_on_sigint_with_everything_stored(tmp_path, test_model):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "first.jpg").write_bytes(jpeg_bytes(200, size=(64, 64)))
    os.utime(folder / "first.jpg", (1_600_000_000, 1_600_000_000))  # old: scanned at once
    db = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FRACTURE_TRIAGE_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", CLI, "scan", str(folder), "--watch", "--model", str(test_model),
                             "--db", db, "--interval", "0.2", "--settle", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        out = lines_of(proc)  # stderr too: nothing can block on a full pipe, and a failure shows it
        head = wait_for(out, "Watching")
        assert any("scored:     1" in line for line in head)
        tmp = tmp_path / "partial.tmp"
        tmp.write_bytes(jpeg_bytes(240, size=(64, 64)))
        os.replace(tmp, folder / "new.jpg")  # appears complete (as a copy tool's rename does)
        line = wait_for(out, "new.jpg")[-1]
        assert line.startswith("new: ") and "probability" in line
        proc.send_signal(signal.SIGINT)
        tail = wait_for(out, "Stopped watching")
        assert "1 new or changed file scored and stored" in tail[-1]
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    from core.store import open_store

    store = open_store(db, backups_keep=0)
    try:
        names = sorted(Path(r.path).name for r in store.image_rows(folder))
        assert names == ["first.jpg", "new.jpg"]
        assert all(r.probability is not None for r in store.image_rows(folder))
    finally:
        store.close()


@pytest.mark.parametrize("argv, message", [
    (["--interval", "1"], "--interval is only used with --watch"),
    (["--watch", "--settle", "0"], "--settle must be more than 0"),
])
def test_watch_options_are_checked(tmp_path, test_model, capsys, argv, message):
    (tmp_path / "f").mkdir()
    rc = main(["scan", str(tmp_path / "f"), "--model", str(test_model), "--no-store", *argv])
    assert rc == 2 and message in capsys.readouterr().err
