"""Decode every image once, through the app's own ``core.imaging.preprocess.prepare`` (so training sees
exactly what a scan feeds the model), and keep the letterboxed uint8 canvases in one ``.npy`` per
(dataset, size) under a cache folder. Epochs then never touch a JPEG.

The cache key covers the preprocessing id, the size, the imaging code (``reader_fingerprint``) and
every file's path, size and mtime, so a changed file, reader or preprocessing makes a new cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from core.training.data import Listing

DEFAULT_CACHE = Path("training-cache")


def reader_fingerprint() -> str:
    """Hash of the imaging package's source: a changed reader (e.g. one that now decodes truncated
    JPEGs it used to refuse) must never be served from a cache built with the old one."""
    import core.imaging

    h = hashlib.sha256()
    for f in sorted(Path(core.imaging.__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _key(listing: Listing, size: int) -> str:
    from core.imaging.preprocess import PREPROCESSING_ID

    h = hashlib.sha256(f"{PREPROCESSING_ID}|{size}|{reader_fingerprint()}".encode())
    for p in listing.paths:
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def prepare_file(path: Path, size: int) -> np.ndarray:
    """One file → uint8 (size, size) canvas, exactly as the app's scan prepares it."""
    from core.imaging.preprocess import prepare

    canvas, _geo, _decoded = prepare(Path(path).read_bytes(), size, name=Path(path).name)
    return canvas


def load_images(listing: Listing, size: int, cache_dir: Path | None = DEFAULT_CACHE, *, workers: int = 2,
                log=print) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Return (images uint8 (N,size,size), ok bool (N,), errors [(path, reason)]).

    Files the reader refuses (``FileError``) are reported and masked out, never fatal.
    """
    from core.imaging.errors import FileError

    path = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        key = _key(listing, size)
        path = cache_dir / f"images-{size}-{key}.npy"
        side = cache_dir / f"images-{size}-{key}.json"
        if path.is_file() and side.is_file():
            info = json.loads(side.read_text(encoding="utf-8"))
            images = np.load(path, mmap_mode=None)
            if images.shape == (len(listing), size, size):
                return images, np.asarray(info["ok"], dtype=bool), [tuple(e) for e in info["errors"]]
    images = np.zeros((len(listing), size, size), dtype=np.uint8)
    ok = np.ones(len(listing), dtype=bool)
    errors: list[tuple[str, str]] = []

    def one(i: int):
        try:
            images[i] = prepare_file(listing.paths[i], size)
        except (FileError, OSError) as exc:
            ok[i] = False
            errors.append((str(listing.paths[i]), str(exc)))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for n, _ in enumerate(pool.map(one, range(len(listing))), 1):
            if n % 500 == 0:
                log(f"  decoded {n}/{len(listing)} at {size}px")
    for p, why in errors:
        log(f"  skipped {p}: {why}")
    if path is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, images)
        os.replace(tmp, path)
        side.write_text(json.dumps({"ok": ok.tolist(), "errors": errors, "n": len(listing), "size": size}),
                        encoding="utf-8")
    return images, ok, errors
