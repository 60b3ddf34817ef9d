"""Watching a folder for new and changed images (Qt-free; ``scan --watch`` uses it, and any GUI would
the same way): what to score next, and when a file is finished enough to be read.

* ``Settler`` — a file is **settled** once its size and mtime have stayed the same for ``settle_s``
  seconds (seen twice at least that far apart). A file still being copied or written by a modality
  keeps growing (its size or mtime changes between looks), so it is never read half-written.
* ``FolderWatch`` — the incremental re-scan: ``poll()`` walks the folder (``core.discovery``: the same
  rules as a scan), compares every file's (size, mtime) with what was handled, and returns the new or
  changed files that have settled; unsettled ones are looked at again by the next poll (``pending``
  says how many wait, so the caller polls again after ``settle_s``). The caller decides when to poll:
  on a file-system notification (e.g. Qt's ``QFileSystemWatcher``) and periodically anyway —
  network shares often deliver no notifications at all.
The folder's own scan (when it is opened) reads every file there, as any scan does; ``handled`` then
records each at the size and mtime that scan saw, so a file it caught half-written has changed by the
next look and is read again once it settles (its first, failed read is replaced). Files that disappear are forgotten (their stored results stay). Not thread-safe: one thread polls at a
time (the CLI polls on its main thread; a GUI on one worker at a time).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from core.discovery import DiscoveryStats, FoundFile, discover

SETTLE_S = 2.0  # a file unchanged this long is finished (modalities and copies write in well under that)
POLL_S = 20.0  # the periodic re-scan, for folders that send no notifications (network shares)
NOTIFY_DELAY_S = 0.3  # after a notification, wait this long for more of the same burst


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time it was first seen with this size and mtime


class Settler:
    """Decides when a file has stopped changing (see the module docstring)."""

    def __init__(self, settle_s: float = SETTLE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle_s = float(settle_s)
        self.clock = clock
        self._seen: dict[Path, _Seen] = {}

    def observe(self, f: FoundFile) -> bool:
        """Look at ``f`` now; True when it is settled (then it is forgotten: the caller reads it)."""
        now = self.clock()
        seen = self._seen.get(f.path)
        if seen is None or (seen.size, seen.mtime_ns) != (f.size, f.mtime_ns):
            self._seen[f.path] = _Seen(f.size, f.mtime_ns, now)
            return False
        if now - seen.since >= self.settle_s:
            del self._seen[f.path]
            return True
        return False

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def keep_only(self, paths: set[str]) -> None:
        """Forget the files whose path (as text) is not in ``paths``."""
        for p in [p for p in self._seen if str(p) not in paths]:
            del self._seen[p]

    @property
    def pending(self) -> int:
        return len(self._seen)

    @property
    def waiting(self) -> list[Path]:
        return sorted(self._seen)


@dataclass
class PollResult:
    settled: list[FoundFile] = field(default_factory=list)  # new or changed, finished: score these
    new: set[Path] = field(default_factory=set)  # which of them were never handled before
    pending: int = 0  # seen changing, not settled yet: poll again after settle_s
    folders: set[Path] = field(default_factory=set)  # every folder holding an image (for notifications)
    stats: DiscoveryStats = field(default_factory=DiscoveryStats)
    elapsed_s: float = 0.0


class FolderWatch:
    """The incremental re-scan of one folder (see the module docstring)."""

    def __init__(self, root: Path, settle_s: Optional[float] = None, *, settler: Optional[Settler] = None) -> None:
        self.root = Path(root).absolute()
        self.settler = settler or Settler(SETTLE_S if settle_s is None else settle_s)
        # path as text -> (size, mtime) as handled: text, not Path (100,000 Paths with their parts were
        # ~30 MB; the text is usually the one the scan's Path already cached for the store)
        self._handled: dict[str, tuple[int, int]] = {}

    def handled(self, files: Iterable[tuple[Path, int, int]]) -> None:
        """Record files as scored (or failed) at this size and mtime: only a change brings them back."""
        for path, size, mtime_ns in files:
            self.mark(path, size, mtime_ns)

    def mark(self, path: Path | str, size: int, mtime_ns: int) -> None:
        """One file scored (or failed) at this size and mtime (kept as the path's text)."""
        self._handled[str(path)] = (int(size), int(mtime_ns))

    def folders(self) -> set[Path]:
        """The folders holding a handled file (those the watcher listens to)."""
        return {Path(d) for d in {os.path.dirname(p) for p in self._handled}}

    def unhandled(self, files: Iterable[FoundFile]) -> None:
        """Files ``poll`` returned that could not be scored after all: the next looks find them again."""
        for f in files:
            self._handled.pop(str(f.path), None)

    @property
    def pending(self) -> int:
        return self.settler.pending

    def poll(self, cancel: Optional[threading.Event] = None) -> PollResult:
        """Walk the folder once; the settled new/changed files are marked handled and returned."""
        t0 = time.perf_counter()
        out = PollResult()
        present: set[str] = set()
        for f in discover(self.root, cancel=cancel, stats=out.stats):
            text = str(f.path)
            present.add(text)
            out.folders.add(f.path.parent)
            before = self._handled.get(text)
            if before == (f.size, f.mtime_ns):
                continue
            if self.settler.observe(f):
                out.settled.append(f)
                if before is None:
                    out.new.add(f.path)
                self._handled[text] = (f.size, f.mtime_ns)
        if cancel is None or not cancel.is_set():
            for gone in [p for p in self._handled if p not in present]:
                del self._handled[gone]
            self.settler.keep_only(present)
        out.pending = self.settler.pending
        out.elapsed_s = time.perf_counter() - t0
        return out
