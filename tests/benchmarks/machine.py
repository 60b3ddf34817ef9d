"""What the benchmark scripts share about the machine they run on: how many cores a process really gets
now (on a shared machine other jobs take their part, and every timing figure should be read with it)."""

from __future__ import annotations

import hashlib
import os
import threading
import time


def effective_cores(threads: int | None = None, seconds: float = 0.5) -> float:
    """SHA-256 throughput of ``threads`` threads (default: every CPU) over one thread's (it releases the GIL)."""
    block = b"x" * (1 << 22)

    def rate(n: int) -> float:
        count = [0] * n
        stop = time.perf_counter() + seconds

        def work(i: int) -> None:
            while time.perf_counter() < stop:
                hashlib.sha256(block).digest()
                count[i] += 1

        ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return sum(count) / seconds

    return rate(threads or os.cpu_count() or 2) / rate(1)
