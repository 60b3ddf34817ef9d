"""One log file per process: two app windows (two processes) never write or rotate one shared file;
old files are pruned to ``KEEP`` per kind, and a file that cannot be removed is left alone."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from core import logfile

_CHILD = """
import logging, sys, time
from core.logfile import open_log
path = open_log("desktop", folder=sys.argv[1])
print(path, flush=True)
for i in range(200):
    logging.getLogger("fracture_triage.desktop").info("record %d from %s", i, sys.argv[2])
"""


def test_two_processes_get_two_files(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), tag], stdout=subprocess.PIPE,
                              text=True, env=env) for tag in ("first", "second")]
    paths = [Path(p.communicate(timeout=60)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert paths[0] != paths[1] and {p.parent for p in paths} == {tmp_path}
    for path, tag, other in ((paths[0], "first", "second"), (paths[1], "second", "first")):
        text = path.read_text(encoding="utf-8")
        assert text.count(f"from {tag}") == 200 and f"from {other}" not in text
        assert path.name.startswith("desktop-") and path.name.endswith(f"-{path.name.split('-')[-1]}")
    assert not (tmp_path / "desktop.log").exists()


def test_old_files_pruned_and_current_log(tmp_path):
    for i in range(30):
        (tmp_path / f"desktop-20260101T0000{i:02d}Z-{100 + i}.log").write_text("old")
    (tmp_path / "scan-20260101T000000Z-1.log").write_text("other kind")
    path = logfile.open_log("desktop", folder=tmp_path, keep=5)
    try:
        logging.getLogger("fracture_triage.test").warning("hello")
        assert logfile.current_log() == path
        left = sorted(p.name for p in tmp_path.glob("desktop-*.log"))
        assert len(left) == 5 and path.name in left and "desktop-20260101T000029Z-129.log" in left
        assert (tmp_path / "scan-20260101T000000Z-1.log").exists()
    finally:
        for h in list(logging.getLogger("fracture_triage").handlers):
            if getattr(h, "_fracture_triage", False):
                logging.getLogger("fracture_triage").removeHandler(h)
                h.close()
    assert "hello" in path.read_text(encoding="utf-8")


def test_unwritable_folder_falls_back_to_stderr(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    try:
        assert logfile.open_log("desktop", folder=blocker / "logs") is None
        assert logfile.current_log() is None
    finally:
        for h in list(logging.getLogger("fracture_triage").handlers):
            if getattr(h, "_fracture_triage", False):
                logging.getLogger("fracture_triage").removeHandler(h)

