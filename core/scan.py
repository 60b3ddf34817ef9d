"""The scan pipeline: discovery → read + SHA-256 → decode to model input → batched inference → results.

Threads (all inside ``scan``; it returns when everything has stopped):
  * the caller's thread walks the folder (``core.discovery``), asks ``known_batch`` which of the files
    found are unchanged and were scored before (REUSED, no decoding) — in batches, 16 files first, then
    doubling up to 500, the store's one query — and feeds the read queue the others;
  * ``workers`` decode threads read each file once (``read_found``), hash those bytes (image identity),
    settle duplicates within this scan (first file with those bytes is decoded, later ones become
    DUPLICATE of it), and decode with ``core.imaging.preprocess.prepare`` (reduced-size JPEG decoding)
    into a uint8 model-input canvas; Pillow, pydicom's decoders and hashlib release the GIL, so they run
    beside inference; ``on_decoded(image_id, decoded)`` (optional, e.g. ``core.thumbnails``) sees each
    ``DecodedImage`` there, so nothing that needs the decoded image has to decode the file again;
  * the model's onnxruntime session is created on its own thread as soon as the first file that needs
    scoring is queued (beside reading and decoding it; a folder without files, or with only files
    reused from the store, never builds one), and no result is handed out while it is being made — a
    model that cannot load stops the scan with nothing reported beyond what needed no model (reused
    files, unreadable ones found before);
  * one inference thread batches canvases (up to ``batch_size``; a partial batch is run as soon as the
    decoded queue runs dry, so the first results arrive at once) and runs ``Model.predict``.
Both queues are bounded, so memory stays flat however many files there are (``ScanSummary.max_in_flight``
≤ ``in_flight_bound`` decoded images). ``cancel`` (threading.Event) stops everything promptly; items
already handed out stay valid. ``on_item`` / ``on_progress`` are called one at a time (serialised), from
whichever pipeline thread produced the result: GUI callers marshal to their own thread.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from core import scan_steps as steps
from core.discovery import DiscoveryStats, FoundFile, discover, read_found
from core.imaging.errors import FileError
from core.results import DUPLICATE, ERROR, REUSED, SCORED, ScanItem

# (image id, probability, meta[, scope, scope_reason]) of an unchanged, already scored file
KnownFn = Callable[[Path, int, int], Optional[tuple]]
# the same question for many files at once: found files -> {path: that tuple} for the known ones
KnownBatchFn = Callable[[list[FoundFile]], dict]
FIRST_KNOWN_BATCH = 16  # the first batch is small: the first results come at once
KNOWN_BATCH = 500  # then doubling up to this many files per question (the store asks 500 per query)
KNOWN_WAIT_S = 0.25  # a slow walk (network share) still asks at least this often

_STOP = object()


@dataclass(frozen=True)
class ScanProgress:
    done: int  # files with a result (any status)
    total: int  # files found so far (final once total_final)
    current: Optional[Path]  # the file whose result just arrived
    rate: float  # results per second since the scan started
    total_final: bool = False  # discovery has finished


@dataclass
class ScanSummary:
    root: Path
    model_version: str
    scored: int = 0
    reused: int = 0
    duplicates: int = 0
    skipped: int = 0  # hidden + non-image + special + links (see discovery)
    errors: list[ScanItem] = field(default_factory=list)
    cancelled: bool = False
    elapsed_s: float = 0.0
    items: list[ScanItem] = field(default_factory=list)  # in discovery order
    discovery: DiscoveryStats = field(default_factory=DiscoveryStats)
    first_result_s: Optional[float] = None  # seconds from start to the first result
    max_in_flight: int = 0  # most decoded canvases held at once
    in_flight_bound: int = 0  # what the queue sizes allow (max_in_flight never exceeds it)
    workers: int = 0
    batch_size: int = 0

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def files(self) -> int:
        """Files handled (scored, known, duplicate or unreadable); ``len(items)`` unless items were not kept."""
        return self.scored + self.reused + self.duplicates + self.failed


class _Origin:
    """The first file with some bytes: its path, then the result later copies take (``_result``) or the
    copies waiting for it. One per file scanned, so compact: never the whole ScanItem (its heatmap)."""

    __slots__ = ("path_text", "result", "waiting")

    def __init__(self, path: Path) -> None:
        self.path_text = os.fspath(path)
        self.result: Optional[tuple] = None
        self.waiting: Optional[list[tuple[ScanItem, int]]] = None

    @property
    def path(self) -> Path:
        return Path(self.path_text)


def _result(item: ScanItem) -> tuple:
    if item.status == ERROR:
        return (ERROR, item.error, item.error_kind)
    return (item.status, item.probability, item.model_version, item.meta, item.scope, item.scope_reason,
            item.scope_distance)


class _Either:
    """is_set() of either event (the caller's cancel or the pipeline's own abort)."""

    def __init__(self, *events: Optional[threading.Event]) -> None:
        self._events = [e for e in events if e is not None]

    def is_set(self) -> bool:  # asked several times per file found: no generator
        for e in self._events:
            if e.is_set():
                return True
        return False


class _Pipeline:
    def __init__(self, root, model, known, on_item, on_progress, cancel, workers, batch_size, keep_cams,
                 on_decoded=None):
        self.root = Path(root)
        self.on_decoded = on_decoded
        self.files: Optional[list[FoundFile]] = None  # set: these files instead of discovery
        self.model = model
        self.known = known
        self.on_item = on_item
        self.on_progress = on_progress
        self.cancel = cancel
        self.abort = threading.Event()
        self.stopped = _Either(cancel, self.abort)
        self.workers = workers
        self.batch_size = batch_size
        self.keep_cams = keep_cams
        self.size = model.input_size
        self.gate = steps.gate_for(model)
        self.read_q: queue.Queue = queue.Queue(maxsize=2 * workers)
        self.dec_q: queue.Queue = queue.Queue(maxsize=2 * batch_size)
        self.lock = threading.RLock()  # results, duplicates, callbacks
        self.by_hash: dict[str, _Origin] = {}
        self.results: list[tuple[int, ScanItem]] = []  # every item, or with keep_items False the errors only
        self.keep_items = True
        self.done = 0  # items emitted
        self.failure: Optional[BaseException] = None
        self.session_thread: Optional[threading.Thread] = None
        self.session_ready = threading.Event()
        self.stats = DiscoveryStats()
        self.summary = ScanSummary(root=self.root, model_version=model.version, discovery=self.stats,
                                   workers=workers, batch_size=batch_size)
        # decoded canvases alive: queue + the batch being built + one per worker waiting to put
        self.summary.in_flight_bound = self.dec_q.maxsize + batch_size + workers
        self.in_flight = 0
        self.t0 = time.perf_counter()

    # --- results -------------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = exc
        self.abort.set()

    def start_session(self) -> None:
        """Start creating the model's session on its own thread (once; from the caller's thread, before
        the first file is put on the read queue)."""
        if self.session_thread is None:
            self.session_thread = threading.Thread(target=self._make_session, name="scan-session", daemon=True)
            self.session_thread.start()

    def _make_session(self) -> None:
        try:
            self.model.ensure_session()
        except BaseException as exc:  # a model that cannot load: nothing is handed out, scan() raises it
            self._fail(exc)
        finally:
            self.session_ready.set()

    def emit(self, item: ScanItem, index: int) -> None:
        if self.session_thread is not None:  # set by feed() before any file is read
            self.session_ready.wait()
        with self.lock:
            if self.abort.is_set():
                return
            s = self.summary
            self.done += 1
            if self.keep_items or item.status == ERROR:
                self.results.append((index, item))
            if s.first_result_s is None:
                s.first_result_s = time.perf_counter() - self.t0
            if item.status == SCORED:
                s.scored += 1
            elif item.status == REUSED:
                s.reused += 1
            elif item.status == DUPLICATE:
                s.duplicates += 1
            if item.status == ERROR:
                s.errors.append(item)
            waiting: list[tuple[ScanItem, int]] = []
            result = None
            if item.image_id is not None and item.status != DUPLICATE:
                origin = self.by_hash.get(item.image_id)
                if origin is not None and origin.result is None and origin.path_text == os.fspath(item.path):
                    origin.result = result = _result(item)
                    waiting, origin.waiting = origin.waiting or [], None
            try:
                if self.on_item is not None:
                    self.on_item(item)
                if self.on_progress is not None:
                    done = self.done
                    elapsed = max(time.perf_counter() - self.t0, 1e-9)
                    self.on_progress(ScanProgress(done, max(self.stats.found + len(self.stats.unreadable), done),
                                                  item.path, done / elapsed, self.stats.done))
            except BaseException as exc:  # a caller's callback failed: stop, re-raise from scan()
                self._fail(exc)
                return
            for dup, index in waiting:
                self._settle_duplicate(dup, index, result)

    def _settle_duplicate(self, dup: ScanItem, index: int, result: tuple) -> None:
        if result[0] == ERROR:
            dup.status, dup.error, dup.error_kind = result
        else:
            _, dup.probability, dup.model_version, dup.meta, dup.scope, dup.scope_reason, dup.scope_distance = result
        self.emit(dup, index)

    def claim(self, image_id: str, path: Path) -> Optional[_Origin]:
        """Register ``path`` as the first file with these bytes, or return the existing origin."""
        with self.lock:
            origin = self.by_hash.get(image_id)
            if origin is None:
                self.by_hash[image_id] = _Origin(path)
            return origin

    def duplicate(self, f: FoundFile, image_id: str, origin: _Origin, index: int) -> None:
        dup = ScanItem(f.path, f.size, f.mtime_ns, DUPLICATE, image_id=image_id, duplicate_of=origin.path)
        with self.lock:
            if origin.result is None:
                if origin.waiting is None:
                    origin.waiting = []
                origin.waiting.append((dup, index))
                return
            self._settle_duplicate(dup, index, origin.result)

    # --- stages ----------------------------------------------------------------------------------
    def decode_worker(self) -> None:
        try:
            while True:
                job = self.read_q.get()
                if job is _STOP:
                    return
                if self.stopped.is_set():
                    continue  # drain quickly
                index, f = job
                self._decode_one(f, index)
        except BaseException as exc:  # never leave the inference thread waiting
            self._fail(exc)
        finally:
            self.dec_q.put(_STOP)

    def _decode_one(self, f: FoundFile, index: int) -> None:
        image_id = None
        try:
            data = read_found(f.path)
            image_id = hashlib.sha256(data).hexdigest()
            origin = self.claim(image_id, f.path)
            if origin is not None:
                self.duplicate(f, image_id, origin, index)
                return
            canvas, _geo, decoded = steps.prepare(data, self.size, f.path.name)
            meta = decoded.meta
            verdict = steps.assess(decoded)
            if self.on_decoded is not None:  # before the result exists: its thumbnail is there first
                steps.call_on_decoded(self.on_decoded, image_id, decoded)
            del data, decoded
        except FileError as exc:
            self.emit(ScanItem(f.path, f.size, f.mtime_ns, ERROR, image_id=image_id, error=exc.reason,
                               error_kind=exc.kind), index)
            return
        except MemoryError:
            self.emit(ScanItem(f.path, f.size, f.mtime_ns, ERROR, image_id=image_id,
                               error="not enough memory to decode this image", error_kind=FileError.TOO_LARGE), index)
            return
        except Exception as exc:  # a reader bug must not stop the scan: report it on this file
            self.emit(ScanItem(f.path, f.size, f.mtime_ns, ERROR, image_id=image_id,
                               error=f"internal error while decoding: {type(exc).__name__}: {exc}",
                               error_kind=FileError.CORRUPT), index)
            return
        item = ScanItem(f.path, f.size, f.mtime_ns, SCORED, image_id=image_id, meta=meta)
        with self.lock:
            self.in_flight += 1
            self.summary.max_in_flight = max(self.summary.max_in_flight, self.in_flight)
        self.dec_q.put((index, item, canvas, verdict))

    def inference_worker(self) -> None:
        stops = 0
        batch: list = []
        try:
            while stops < self.workers:
                if batch:
                    try:
                        job = self.dec_q.get_nowait()
                    except queue.Empty:  # decoders are behind: run what we have now
                        self._run_batch(batch)
                        batch = []
                        continue
                else:
                    job = self.dec_q.get()
                if job is _STOP:
                    stops += 1
                    continue
                batch.append(job)
                if len(batch) >= self.batch_size:
                    self._run_batch(batch)
                    batch = []
            if batch:
                self._run_batch(batch)
        except BaseException as exc:
            self._fail(exc)
            while stops < self.workers:  # keep draining so decoders never block on a full queue
                if self.dec_q.get() is _STOP:
                    stops += 1

    def _run_batch(self, batch: list) -> None:
        n = len(batch)
        try:
            self.session_ready.wait()
            if self.stopped.is_set():
                return
            from core.imaging.preprocess import to_tensor

            x = to_tensor(np.stack([job[2] for job in batch]))
            if self.gate.has_content:
                pred = self.model.predict(x, with_cam=self.keep_cams, with_embedding=True)
                distances = self.gate.distances(pred.embeddings)
            else:
                pred = self.model.predict(x, with_cam=self.keep_cams)
                distances = None
            version = self.model.version
            for k, (index, item, _c, verdict) in enumerate(batch):
                item.probability = float(pred.probabilities[k])
                item.model_version = version
                if self.keep_cams and pred.cams is not None:
                    item.cam = pred.cams[k].copy()
                if verdict is not None:
                    v = self.gate.finish(verdict, None if distances is None else float(distances[k]))
                    item.scope, item.scope_reason, item.scope_distance = v.scope, v.reason, v.distance
                self.emit(item, index)
        finally:
            with self.lock:
                self.in_flight -= n

    def feed(self) -> None:
        """Caller's thread: discovery, reuse of known files (asked in batches), feeding the decoders."""
        reported_unreadable = 0
        index = 0
        pending: list[tuple[int, FoundFile]] = []
        want = FIRST_KNOWN_BATCH
        since = 0.0

        def report_unreadable():
            nonlocal reported_unreadable, index
            while reported_unreadable < len(self.stats.unreadable):
                path, reason = self.stats.unreadable[reported_unreadable]
                reported_unreadable += 1
                self.emit(ScanItem(path, 0, 0, ERROR, error=reason, error_kind=FileError.UNREADABLE), index)
                index += 1

        def flush():
            nonlocal want
            hits = self.known([f for _, f in pending]) if self.known is not None else {}
            for i, f in pending:
                if self.stopped.is_set():
                    break
                hit = hits.get(f.path)
                if hit is not None and hit[1] is not None:
                    self._reuse(f, hit, i)
                else:
                    self.start_session()
                    self.read_q.put((i, f))
            pending.clear()
            want = min(2 * want, KNOWN_BATCH)

        source = discover(self.root, cancel=self.stopped, stats=self.stats) if self.files is None else self.files
        for f in source:
            report_unreadable()
            if self.stopped.is_set():
                break
            if self.known is None:
                self.start_session()
                self.read_q.put((index, f))
            else:
                if not pending:
                    since = time.perf_counter()
                pending.append((index, f))
                if len(pending) >= want or time.perf_counter() - since > KNOWN_WAIT_S:
                    flush()
            index += 1
        if pending and not self.stopped.is_set():
            flush()
        report_unreadable()

    def _reuse(self, f: FoundFile, hit: tuple, index: int) -> None:
        image_id, probability, meta = hit[:3]
        scope, reason = (tuple(hit[3:5]) + (None, None))[:2]
        origin = self.claim(image_id, f.path)
        if origin is not None:
            self.duplicate(f, image_id, origin, index)
        else:
            self.emit(ScanItem(f.path, f.size, f.mtime_ns, REUSED, image_id=image_id,
                               probability=float(probability), model_version=self.model.version,
                               meta=meta, scope=scope, scope_reason=reason), index)


def _per_file(known: KnownFn) -> KnownBatchFn:
    """A one-file ``known`` asked file by file, as a batch function."""

    def batch(files: list[FoundFile]) -> dict:
        out = {}
        for f in files:
            hit = known(f.path, f.size, f.mtime_ns)
            if hit is not None:
                out[f.path] = hit
        return out

    return batch


def scan(
    root: Path,
    model,
    *,
    known: Optional[KnownFn] = None,
    known_batch: Optional[KnownBatchFn] = None,
    on_item: Optional[Callable[[ScanItem], None]] = None,
    on_progress: Optional[Callable[[ScanProgress], None]] = None,
    cancel: Optional[threading.Event] = None,
    workers: Optional[int] = None,
    batch_size: int = 8,
    keep_cams: bool = False,
    files: Optional[list[FoundFile]] = None,
    on_decoded: Optional[Callable[[str, object], None]] = None,
    keep_items: bool = True,
) -> ScanSummary:
    """Scan ``root`` with ``model`` (a ``core.model.Model``); see the module docstring.

    Raises ``NotADirectoryError``/``FileNotFoundError`` for a bad root, ``ModelError`` when the model
    fails, or whatever ``known``/``on_item``/``on_progress`` raised; per-file problems never raise
    (they are ERROR items). ``known_batch(files)`` asks which of a batch of found files are unchanged
    since they were stored ({path: hit}, a hit as ``known`` returns it; one database query per batch),
    ``known(path, size, mtime_ns)`` the same one file at a time. ``keep_cams`` keeps each image's class-activation map on its item (off by
    default: the viewer computes the one it shows). ``files``: score exactly these files instead of
    discovering ``root`` (model comparison re-scores the labelled images this way). ``on_decoded(image_id,
    decoded)``: called on a decode thread with each newly decoded ``DecodedImage`` (not for reused or
    duplicate files); what it raises is logged, the image is still scored. ``keep_items=False``: the
    summary's ``items`` stays empty (its counts and ``errors`` are kept) — a caller that takes each item
    from ``on_item`` need not hold 100,000 of them until the end (the app's folder scan).
    """
    from core.model.runtime import thread_plan

    root = Path(os.path.abspath(root))  # absolute item paths: what the store keys on and users can reopen
    if workers is None:
        workers = thread_plan().decode_workers
    workers = max(1, int(workers))
    batch_size = max(1, int(batch_size))
    if known_batch is None and known is not None:
        known_batch = _per_file(known)
    p = _Pipeline(root, model, known_batch, on_item, on_progress, cancel, workers, batch_size, keep_cams, on_decoded)
    p.keep_items = keep_items
    if files is not None:
        p.files = list(files)
        p.stats.found = len(p.files)
        p.stats.done = True
    threads = [threading.Thread(target=p.decode_worker, name=f"scan-decode-{i}", daemon=True) for i in range(workers)]
    threads.append(threading.Thread(target=p.inference_worker, name="scan-infer", daemon=True))
    for t in threads:
        t.start()
    interrupted: Optional[BaseException] = None
    try:
        p.feed()
    except BaseException as exc:  # KeyboardInterrupt, a failing `known`, a vanished root...
        interrupted = exc
        p.abort.set()
    finally:
        for _ in range(workers):
            p.read_q.put(_STOP)
        for t in threads:
            t.join()
        if p.session_thread is not None:  # never leave it running into the caller's (or interpreter's) exit
            p.session_thread.join()
    s = p.summary
    s.elapsed_s = time.perf_counter() - p.t0
    s.cancelled = bool(cancel is not None and cancel.is_set()) or interrupted is not None
    s.skipped = p.stats.skipped_total
    ordered = [item for _, item in sorted(p.results, key=lambda r: r[0])]
    s.items = ordered if keep_items else []
    s.errors = [i for i in ordered if i.status == ERROR]
    if interrupted is not None:
        raise interrupted
    if p.failure is not None:
        raise p.failure
    return s
