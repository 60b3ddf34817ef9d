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
import time
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


def watch_folder(root, model, watch, *, summary, known_batch, on_item, drain, thresholds, interval_s: float,  # noqa: ANN001
                 cancel, workers: Optional[int], batch_size: int, say: Callable, display: Callable) -> int:
    """Watch until Ctrl+C / SIGTERM (see the module docstring); ``drain()`` waits until every result
    handed to ``on_item`` is stored. Returns the exit status."""
    from core.scan import scan

    watch.handled((i.path, i.size, i.mtime_ns) for i in summary.items if i.size or i.mtime_ns)
    previous = signal.getsignal(signal.SIGTERM)

    def stop(_signo, _frame) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    scored = flagged = 0
    waiting = f", {watch.pending} still being written" if watch.pending else ""
    say(f"Watching {display(root)} for new images every {interval_s:g} s{waiting} (Ctrl+C to stop)")
    try:
        while not cancel.is_set():
            time.sleep(watch.settler.settle_s if watch.pending else interval_s)
            found = watch.poll()
            if not found.settled:
                continue
            s = scan(root, model, files=found.settled, known_batch=known_batch, on_item=on_item, cancel=cancel,
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
        signal.signal(signal.SIGTERM, previous)
        drain()
    if cancel.is_set():
        return 1
    say(f"Stopped watching {display(root)}: {scored} new or changed file{'s' if scored != 1 else ''} scored and "
        f"stored ({flagged} flagged)")
    sys.stdout.flush()
    return 0
