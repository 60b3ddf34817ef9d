"""Atomic small-file writes (settings, CSV reports, thumbnails): write a temporary sibling, fsync,
rename over the target. A crash leaves either the old file or the new one, never half of one.
``atomic_write_bytes(..., durable=False)`` skips the fsync, for caches that detect and regenerate a
damaged file (after a power cut the rename may land before the data)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


TMP_SUFFIX = ".tmp"


@contextmanager
def _replacing(path: Path | str, mode: str, *, durable: bool = True, **open_kw) -> Iterator[IO]:
    """A temporary sibling of ``path`` opened with ``mode``; renamed over ``path`` only when the block
    succeeds (fsynced first when ``durable``), removed otherwise."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=TMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, mode, **open_kw) as fh:
            yield fh
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextmanager
def atomic_write(path: Path | str, *, newline: str | None = None) -> Iterator[IO[str]]:
    """``with atomic_write(p) as fh: fh.write(...)`` — UTF-8 text, replaced only on success."""
    with _replacing(path, "w", encoding="utf-8", newline=newline) as fh:
        yield fh


def atomic_write_bytes(path: Path | str, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temporary sibling, then rename); ``durable`` fsyncs first."""
    with _replacing(path, "wb", durable=durable) as fh:
        fh.write(data)
