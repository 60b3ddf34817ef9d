"""``ScanRecorder``: how a scan's results reach the store — one policy for the CLI and the desktop.

* **Batching**: ``add(item)`` buffers results (safe from the scan's threads) and hands back a batch
  when ``batch_size`` results are waiting or ``interval_s`` has passed since the last one (the very
  first result at once, so the first row shows without waiting); unchanged files (REUSED: only
  marked as seen now) wait apart, ``REUSED_BATCH_SIZE`` to a batch, whatever the time — a re-scan of
  10,000 unchanged files is five transactions, not forty; ``rest()`` hands back what is left when
  the scan ends.
* **Writing**: ``write(batch)`` (on the caller's one database-writer thread, batches in order) stores
  the batch in one transaction; if the database refuses it, the batch is retried item by item so one
  odd file cannot lose the others' results, and the files that still fail are listed in
  ``not_stored`` with the reason. After ``MAX_FAILURES_IN_A_ROW`` consecutive refusals it is not one
  odd file but the database itself: ``write`` raises ``DatabaseFailing`` and ``failed`` turns true, so
  the caller cancels the scan (what was stored stays stored).
* **What the caller shows already**: with ``shown(item)`` (thread-safe), results it holds for (an
  unchanged file the caller's list shows as it is) are stored like the others but left out of
  ``BatchResult.changed`` and of the labels read for it: a re-scan of an unchanged folder gives the
  caller nothing to do.
* **Re-scans**: ``begin()`` forgets the folder's old per-file errors; ``known(path, size, mtime_ns)``
  is the scan's question "is this file unchanged since it was stored?" (None when it must be scored);
  ``known_batch(files)`` asks it of a batch of files in one query (what scans use).

The recorder owns no thread: the CLI runs ``write`` on a one-thread executor, the desktop on its task
runner's writer thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from core.results import REUSED, ScanItem

if TYPE_CHECKING:  # pragma: no cover
    from core.store import Decision, Store

MAX_FAILURES_IN_A_ROW = 20
BATCH_SIZE = 256
REUSED_BATCH_SIZE = 2048
INTERVAL_S = 1.0


class DatabaseFailing(Exception):
    """The database refused many results in a row: the scan should stop (``str()`` says why)."""


@dataclass
class BatchResult:
    stored: list[ScanItem]  # in the order given
    changed: list[ScanItem] = field(default_factory=list)  # stored, less what the caller shows already (``shown``)
    not_stored: list[tuple[Path, str]] = field(default_factory=list)  # (path, reason)
    labels: dict[str, "Decision"] = field(default_factory=dict)  # current decisions of the stored images


class ScanRecorder:
    def __init__(self, store: "Store", root: Path, model_version: Optional[str] = None, *,
                 batch_size: int = BATCH_SIZE, interval_s: float = INTERVAL_S, read_labels: bool = False,
                 labels_of: Optional[str] = None, shown: Optional[Callable[[ScanItem], bool]] = None) -> None:
        self.store = store
        self.root = Path(root)
        self.model_version = model_version
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.read_labels = read_labels
        self.labels_of = labels_of  # with read_labels: this reader's own labels (double reading), else anyone's
        self.shown = shown  # results the caller shows as they are already (see the module docstring)
        self.stored = 0
        self.not_stored: list[tuple[Path, str]] = []
        self.failure: Optional[DatabaseFailing] = None
        self._in_a_row = 0
        self._lock = threading.Lock()
        self._buffer: list[ScanItem] = []
        self._reused: list[ScanItem] = []  # unchanged files, batched apart (see the module docstring)
        self._last = float("-inf")  # the first result goes out at once (the first row shows without delay)

    @property
    def failed(self) -> bool:
        return self.failure is not None

    # -- around the scan --------------------------------------------------------------------------------
    def begin(self) -> None:
        """Before the scan (writer thread): forget the folder's per-file errors of the last scan."""
        self.store.clear_scan_errors(self.root)

    def known(self, path: Path, size: int, mtime_ns: int):  # noqa: ANN201 - see Store.known_location
        """The scan's ``known`` callback (any thread); None also when the recorder has failed."""
        if self.failed:
            return None
        try:
            return self.store.known_location(path, size, mtime_ns, self.model_version)
        except UnicodeError:  # a non-UTF-8 file name the database cannot hold: score it afresh
            return None

    def known_batch(self, files) -> dict:  # noqa: ANN001 - list[core.discovery.FoundFile]
        """The scan's ``known_batch`` callback: {path: hit} for the unchanged files among ``files``, in
        one query per 500 (``Store.known_locations``); file by file only if a name cannot be stored."""
        if self.failed or not files:
            return {}
        from core.store.sqlbits import path_key

        try:
            found = self.store.known_locations([(f.path, f.size, f.mtime_ns) for f in files], self.model_version)
        except UnicodeError:  # one name the database cannot hold: ask the others one by one
            out = {}
            for f in files:
                hit = self.known(f.path, f.size, f.mtime_ns)
                if hit is not None:
                    out[f.path] = hit
            return out
        out = {}
        for f in files:
            hit = found.get(path_key(f.path))
            if hit is not None:
                out[f.path] = hit
        return out

    # -- batching (any thread) --------------------------------------------------------------------------
    def add(self, item: ScanItem) -> Optional[list[ScanItem]]:
        """Buffer one result; returns a batch to ``write`` when one is due, else None."""
        with self._lock:
            if item.status == REUSED:
                self._reused.append(item)
                if len(self._reused) < REUSED_BATCH_SIZE:
                    return None
                batch, self._reused = self._reused, []
                return batch
            self._buffer.append(item)
            now = time.monotonic()
            if len(self._buffer) < self.batch_size and now - self._last < self.interval_s:
                return None
            batch, self._buffer, self._last = self._buffer, [], now
            return batch

    def rest(self) -> list[ScanItem]:
        """What is still buffered (call once the scan has ended)."""
        with self._lock:
            batch, self._buffer, self._last = self._reused + self._buffer, [], time.monotonic()
            self._reused = []
            return batch

    # -- writing (the one writer thread, in order) ------------------------------------------------------
    def write(self, batch: list[ScanItem]) -> BatchResult:
        if self.failure is not None:
            raise self.failure
        result = BatchResult(stored=[])
        if not batch:
            return result
        try:
            self.store.record_scan_results(self.root, batch)
            result.stored = list(batch)
            self._in_a_row = 0
        except Exception as exc:  # noqa: BLE001 - retried one by one below
            first = exc
            for item in batch:
                try:
                    self.store.record_scan_results(self.root, [item])
                except Exception as one:  # noqa: BLE001
                    result.not_stored.append((item.path, f"{type(one).__name__}: {one}"))
                    self._in_a_row += 1
                    if self._in_a_row >= MAX_FAILURES_IN_A_ROW:
                        self._count(result)
                        self.failure = DatabaseFailing(str(first) or type(first).__name__)
                        self.failure.__cause__ = first
                        raise self.failure from first
                else:
                    result.stored.append(item)
                    self._in_a_row = 0
        self._count(result)
        shown = self.shown
        result.changed = result.stored if shown is None else [i for i in result.stored if not shown(i)]
        if self.read_labels and result.changed:
            ids = [i.image_id for i in result.changed if i.image_id]
            result.labels = (self.store.current_labels(ids) if self.labels_of is None
                             else self.store.current_labels(ids, reader=self.labels_of))
        return result

    def _count(self, result: BatchResult) -> None:
        self.stored += len(result.stored)
        self.not_stored.extend(result.not_stored)
