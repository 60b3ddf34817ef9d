"""``core.watch``: a file is read only once its size and mtime stayed the same for the settle time (a
fake clock, no sleeps), the first look takes old files at once, the incremental re-scan returns new
and changed files once, and forgets files that went away."""

from __future__ import annotations

import os
from pathlib import Path

from core.discovery import FoundFile
from core.watch import FolderWatch, Settler
from tests.core.test_discovery import jpeg_bytes


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_growing_file_is_not_settled_until_it_stops_changing():
    clock = Clock()
    s = Settler(2.0, clock=clock)
    f = lambda size, mtime=1: FoundFile(Path("/x/a.jpg"), size, mtime)  # noqa: E731
    assert not s.observe(f(100))  # first sight
    clock.t += 1.0
    assert not s.observe(f(200, 2))  # still growing: the wait starts again
    clock.t += 1.9
    assert not s.observe(f(200, 2))  # unchanged, but not for 2 s yet
    assert s.pending == 1
    clock.t += 0.2
    assert s.observe(f(200, 2))  # unchanged for 2.1 s: read it now
    assert s.pending == 0


def test_a_file_the_first_scan_caught_half_written_is_read_again_once_settled(tmp_path):
    """The folder's scan read every file (one was still being copied); the watch reads that one again."""
    clock = Clock()
    w = FolderWatch(tmp_path, settler=Settler(2.0, clock=clock))
    p = tmp_path / "copying.jpg"
    p.write_bytes(jpeg_bytes(50, size=(32, 32))[:40])
    st = p.stat()
    w.handled([(p, st.st_size, st.st_mtime_ns)])  # what the scan saw (and failed on)
    p.write_bytes(jpeg_bytes(50, size=(32, 32)))  # the copy finished
    assert w.poll().settled == []
    clock.t += 2.5
    assert [f.path for f in w.poll().settled] == [p]


def write(path: Path, value: int, mtime_s: float) -> None:
    path.write_bytes(jpeg_bytes(value, size=(32, 32)))
    os.utime(path, (mtime_s, mtime_s))


def test_poll_returns_new_and_changed_files_once_they_settle(tmp_path):
    clock = Clock()
    w = FolderWatch(tmp_path, settler=Settler(2.0, clock=clock))
    write(tmp_path / "a.jpg", 10, 1_000_000)
    w.handled([(tmp_path / "a.jpg", (tmp_path / "a.jpg").stat().st_size, (tmp_path / "a.jpg").stat().st_mtime_ns)])
    (tmp_path / "notes.txt").write_text("not an image")
    assert w.poll().settled == []  # nothing new

    write(tmp_path / "b.jpg", 20, 1_000_010)
    first = w.poll()
    assert first.settled == [] and first.pending == 1  # seen once: wait
    clock.t += 2.5
    second = w.poll()
    assert [f.path.name for f in second.settled] == ["b.jpg"] and second.new == {tmp_path / "b.jpg"}
    assert second.folders == {tmp_path} and second.pending == 0
    assert w.poll().settled == []  # handled: not again

    write(tmp_path / "a.jpg", 99, 1_000_020)  # rewritten in place
    assert w.poll().settled == []
    clock.t += 2.5
    again = w.poll()
    assert [f.path.name for f in again.settled] == ["a.jpg"] and again.new == set()  # changed, not new


def test_a_file_that_keeps_growing_between_polls_is_never_read(tmp_path):
    clock = Clock()
    w = FolderWatch(tmp_path, settler=Settler(2.0, clock=clock))
    p = tmp_path / "incoming.dcm"
    data = b"\0" * 128 + b"DICM" + b"\0" * 4000
    for k in range(1, 6):  # a slow copy: more bytes at every look
        with open(p, "wb") as fh:
            fh.write(data[: 800 * k])
        os.utime(p, (1_000_000 + k, 1_000_000 + k))
        assert w.poll().settled == []
        clock.t += 1.5
    clock.t += 1.0
    assert [f.path for f in w.poll().settled] == [p]  # unchanged for 2.5 s: finished


def test_a_removed_file_is_forgotten_and_a_new_one_at_its_path_is_new_again(tmp_path):
    clock = Clock()
    w = FolderWatch(tmp_path, settler=Settler(1.0, clock=clock))
    p = tmp_path / "a.jpg"
    write(p, 10, 1_000_000)
    w.poll()
    clock.t += 2
    assert w.poll().new == {p}
    p.unlink()
    assert w.poll().settled == []
    write(p, 10, 1_000_000)
    w.poll()
    clock.t += 2
    assert w.poll().new == {p}


def test_files_that_could_not_be_scored_are_found_again(tmp_path):
    clock = Clock()
    w = FolderWatch(tmp_path, settler=Settler(1.0, clock=clock))
    write(tmp_path / "a.jpg", 10, 1_000_000)
    w.poll()
    clock.t += 2
    got = w.poll().settled
    assert [f.path.name for f in got] == ["a.jpg"]
    w.unhandled(got)  # the app was busy scanning: give them back
    w.poll()
    clock.t += 2
    assert [f.path.name for f in w.poll().settled] == ["a.jpg"]


def test_mark_keeps_the_paths_text_and_folders_lists_where_handled_files_are(tmp_path):
    """The app's folder scan marks each file as its result comes: what is kept is the path's text (the
    one a ``Path`` already made for the store, not a copy; no ``Path`` per file), a string path works
    too, and ``folders`` are those holding a handled file."""
    w = FolderWatch(tmp_path)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "a.jpg", 10, 1_000_000)
    write(tmp_path / "sub" / "b.jpg", 20, 1_000_000)
    a, b = tmp_path / "a.jpg", tmp_path / "sub" / "b.jpg"
    text = str(a)  # a Path caches its text: the scan's store write made it already
    w.mark(a, a.stat().st_size, a.stat().st_mtime_ns)
    w.mark(str(b), b.stat().st_size, b.stat().st_mtime_ns)
    assert any(k is text for k in w._handled) and set(w._handled) == {str(a), str(b)}
    assert all(type(k) is str for k in w._handled)
    assert w.folders() == {tmp_path, tmp_path / "sub"}
    assert w.poll().settled == []  # both handled as they are
