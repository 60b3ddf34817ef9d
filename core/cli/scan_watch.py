"""``fracture-triage scan --watch FOLDER``: after the folder's scan, keep watching it headless — every
new or changed image is scored once it has settled (``core.watch``: its size and mtime unchanged for
``--settle`` seconds, so a file still being written is never read), stored through the same recorder
as the scan, and printed as one line on stdout (``FLAGGED`` when it crosses the active thresholds).
The folder is walked every ``--interval`` seconds (sooner, after ``--settle``, while a file is still
changing); there are no notifications to wait for on the command line, and none on most network shares.

Ctrl+C (SIGINT) or SIGTERM stops it: results already scored are written before it exits (status 0);
an image still being decoded at that moment is scored by the next scan or watch.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable, Optional

from core.scope.verdict import OUT_OF_SCOPE


def describe(item, thresholds, new: bool, display: Callable) -> str:  # noqa: ANN001
    """One line for a scored (or failed) file: new/changed, path, probability, FLAGGED definite/suspicious."""
    what = "new" if new else "changed"
    if item.status == "error":
        return f"{what}: {display(item.path)}: cannot be read: {item.error}"
    prob = "" if item.probability is None else f"probability {item.probability:.3f}"
    flag = None
    if item.scope == OUT_OF_SCOPE:
        prob += f" (out of scope: {item.scope_reason})" if item.scope_reason else " (out of scope)"
    elif item.probability is not None and thresholds is not None:
        flag = thresholds.flag(item.probability)
    line = f"{what}: {display(item.path)}  {prob}".rstrip()
    return line + (f"  FLAGGED {flag}" if flag else "")


class _Stopping:
    """Set by the first Ctrl+C / SIGTERM; ``is_set()`` is also true when the scan's own ``cancel`` is (the
    database failing), so a scan in progress stops at its next file either way."""

    def __init__(self, cancel) -> None:  # noqa: ANN001
        self.requested = threading.Event()
        self._cancel = cancel

    def is_set(self) -> bool:
        return self.requested.is_set() or self._cancel.is_set()

    def wait(self, timeout: float) -> None:
        self.requested.wait(timeout)


def watch_folder(root, model, watch, *, summary, known_batch, on_item, drain, thresholds, interval_s: float,  # noqa: ANN001
                 cancel, workers: Optional[int], batch_size: int, say: Callable, display: Callable) -> int:
    """Watch until Ctrl+C / SIGTERM (see the module docstring); ``drain()`` waits until every result
    handed to ``on_item`` is stored. Returns the exit status.

    The signals only set an event (nothing is raised in the middle of a scan or a database write); the
    loop and a scan in progress see it within one file. A second Ctrl+C interrupts at once (the results
    already handed over are still written)."""
    from core.scan import scan

    watch.handled((i.path, i.size, i.mtime_ns) for i in summary.items if i.size or i.mtime_ns)
    stopping = _Stopping(cancel)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def stop(_signo, _frame) -> None:  # noqa: ANN001
        stopping.requested.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl+C: KeyboardInterrupt

    for sig in previous:
        signal.signal(sig, stop)
    scored = flagged = 0
    waiting = f", {watch.pending} still being written" if watch.pending else ""
    say(f"Watching {display(root)} for new images every {interval_s:g} s{waiting} (Ctrl+C to stop)")
    try:
        while not stopping.is_set():
            stopping.wait(watch.settler.settle_s if watch.pending else interval_s)
            if stopping.is_set():
                break
            found = watch.poll()
            if not found.settled:
                continue
            s = scan(root, model, files=found.settled, known_batch=known_batch, on_item=on_item, cancel=stopping,
                     workers=workers, batch_size=batch_size)
            drain()
            for item in s.items:
                line = describe(item, thresholds, item.path in found.new, display)
                scored += 1
                flagged += "FLAGGED" in line
                say(line)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        drain()
    if cancel.is_set():
        return 1
    say(f"Stopped watching {display(root)}: {scored} new or changed file{'s' if scored != 1 else ''} scored and "
        f"stored ({flagged} flagged)")
    sys.stdout.flush()
    return 0
