"""The thumbnail cache: a small greyscale PNG of each image on this computer's disk, keyed by the image
id (SHA-256 of the file's bytes), so a re-scan, a renamed or moved file and a duplicate all reuse it.

* **Made from what the scan already decodes**: ``put_decoded`` is the scan's ``on_decoded`` hook (decode
  threads); it shrinks ``DecodedImage.grey`` — the image as acquired, i.e. the window the viewer shows
  first (``core.imaging.presets``' first preset) — so no file is decoded twice. ``make`` is the lazy path
  for images scanned before (a cache miss): it reads the file, checks that its bytes are still that
  image, decodes it at a reduced scale and stores the thumbnail (callers run it off the GUI thread).
* **Local only** (privacy): burned-in text can identify a patient, so thumbnails live in the per-user
  cache folder (``core.paths.AppDirs.thumbnails``; folder mode 0700, files 0600), never in the database
  (shared or not), an export or a log. ``clear`` deletes them all; nothing else depends on them.
* **Bounded**: at most ``max_bytes`` on disk; past it, the least recently used files (by mtime, which
  ``get`` refreshes at most once an hour) are deleted down to 80 % of it.
* **Never a crash**: a missing, truncated or damaged file (PNG checksums, size and mode checked) reads as
  a miss (the damaged file is deleted) and is made again; a full disk or an unwritable folder only means
  the thumbnail is not kept. Writes are atomic (``core.fileio.atomic_write_bytes``), without fsync: a
  cache file cut short by a power cut is detected and made again.

Safe to use from several threads and processes at once (each write is a rename of a private file).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from core.fileio import TMP_SUFFIX, atomic_write_bytes

log = logging.getLogger(__name__)

THUMB_SIDE = 128  # long side in pixels (the desktop scales it down; 2x displays stay sharp)
FORMAT = 1  # bump when the way thumbnails are made changes: old ones are then simply not read
DEFAULT_MAX_MB = 512  # ~60,000 thumbnails of radiographs (~8 KB each)
_ID = re.compile(r"[0-9a-f]{64}")
_TOUCH_AFTER_S = 3600.0  # refresh a thumbnail's mtime (its LRU age) at most this often
_STALE_TMP_S = 3600.0  # temporary files older than this were left by a crash


@dataclass(frozen=True)
class CacheUsage:
    files: int
    bytes: int


def make_thumbnail(grey: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """uint8 (H, W) display image → uint8 thumbnail with its long side ``side`` (never enlarged)."""
    a = np.asarray(grey)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"a thumbnail needs a 2-D image, got shape {a.shape}")
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.uint8), "L")
    img.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(img, dtype=np.uint8)


def encode_png(thumb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(thumb, dtype=np.uint8), "L").save(buf, "PNG", compress_level=6)
    return buf.getvalue()


class ThumbnailCache:
    """Thumbnails under ``root`` (see the module docstring); ``max_bytes`` bounds the disk it uses."""

    def __init__(self, root: Path | str, *, max_bytes: int = DEFAULT_MAX_MB * 1024 * 1024,
                 side: int = THUMB_SIDE) -> None:
        self.root = Path(root)
        self.side = int(side)
        self.max_bytes = max(0, int(max_bytes))
        self.folder = self.root / f"v{FORMAT}-{self.side}"
        self._lock = threading.Lock()
        self._prune_lock = threading.Lock()
        self._total: Optional[int] = None  # bytes on disk (counted once, then kept up to date)

    @classmethod
    def default(cls, max_mb: int = DEFAULT_MAX_MB) -> "ThumbnailCache":
        from core.paths import app_dirs

        return cls(app_dirs().thumbnails, max_bytes=max_mb * 1024 * 1024)

    # -- reading -----------------------------------------------------------------------------------
    def path_for(self, image_id: str) -> Path:
        if not isinstance(image_id, str) or not _ID.fullmatch(image_id):
            raise ValueError("an image id is 64 lowercase hex digits (SHA-256)")
        return self.folder / image_id[:2] / f"{image_id}.png"

    def has(self, image_id: str) -> bool:
        try:
            return self.path_for(image_id).is_file()
        except ValueError:
            return False

    def get(self, image_id: str) -> Optional[np.ndarray]:
        """The thumbnail, or None (missing; damaged — then deleted, so it is made again)."""
        try:
            path = self.path_for(image_id)
            st = path.stat()
            data = path.read_bytes()
        except (ValueError, OSError):
            return None
        thumb = self._decode(data)
        if thumb is None:
            log.warning("thumbnail cache: damaged file for image %s… deleted; it will be made again", image_id[:12])
            self._unlink(path, st.st_size)
            return None
        if time.time() - st.st_mtime > _TOUCH_AFTER_S:
            try:
                os.utime(path)
            except OSError:
                pass
        return thumb

    def _decode(self, data: bytes) -> Optional[np.ndarray]:
        try:
            with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
                if img.mode != "L" or not 0 < max(img.size) <= self.side:
                    return None
                img.load()
                return np.asarray(img, dtype=np.uint8)
        except Exception:  # noqa: BLE001 - any failure to read a cache file means: make it again
            return None

    # -- writing -----------------------------------------------------------------------------------
    def put(self, image_id: str, grey: np.ndarray) -> Optional[np.ndarray]:
        """Make the thumbnail of ``grey`` (the display image of ``image_id``), keep it, return it.
        Returns None only for an image that cannot have one (not 2-D); a failed write is logged."""
        path = self.path_for(image_id)
        try:
            thumb = make_thumbnail(grey, self.side)
        except ValueError:
            return None
        data = encode_png(thumb)
        try:
            self._ensure_folder(path.parent)
            old = path.stat().st_size if path.exists() else 0
            atomic_write_bytes(path, data, durable=False)
        except OSError as exc:
            log.warning("thumbnail cache: cannot write in %s (%s); thumbnails are not kept",
                        self.root, exc.strerror or type(exc).__name__)
            return thumb
        self._grew(len(data) - old)
        return thumb

    def put_decoded(self, image_id: str, decoded) -> None:
        """The scan's ``on_decoded`` hook (decode threads): keep the thumbnail of a ``DecodedImage``."""
        if image_id and not self.has(image_id):
            self.put(image_id, decoded.grey)

    def make(self, image_id: str, path: Path | str) -> Optional[np.ndarray]:
        """The thumbnail of ``image_id``, made from the file at ``path`` on a miss (slow: run it off the
        GUI thread). None when the file cannot be read or decoded, or now holds other bytes."""
        thumb = self.get(image_id)
        if thumb is not None:
            return thumb
        from core.imaging.errors import FileError
        from core.imaging.reader import read_image

        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != image_id:
            return None  # the file changed since the scan: not this image's thumbnail
        try:
            decoded = read_image(data, name=Path(path).name, reduce_to=self.side)
        except FileError:
            return None
        except MemoryError:
            return None
        del data
        return self.put(image_id, decoded.grey)

    # -- size and clearing -------------------------------------------------------------------------
    def usage(self) -> CacheUsage:
        """Files and bytes on disk (all formats and sizes under ``root``)."""
        files = size = 0
        for _path, st in self._walk(self.root):
            files += 1
            size += st.st_size
        return CacheUsage(files, size)

    def clear(self) -> CacheUsage:
        """Delete every thumbnail (all formats); returns what was deleted. The folder is first renamed
        aside, so a scan writing thumbnails meanwhile starts a fresh one instead of racing the delete."""
        gone = self.usage()
        with self._prune_lock:
            doomed = self.root.with_name(f".{self.root.name}-deleting-{os.getpid()}-{threading.get_ident()}")
            try:
                os.replace(self.root, doomed)
            except FileNotFoundError:
                doomed = None
            except OSError:
                doomed = self.root  # cannot rename (e.g. a read-only parent): delete in place
            if doomed is not None:
                for attempt in range(3):
                    try:
                        shutil.rmtree(doomed)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as exc:
                        if attempt == 2:
                            log.warning("thumbnail cache: could not delete everything in %s (%s)", doomed,
                                        exc.strerror or type(exc).__name__)
            with self._lock:
                self._total = None
        return gone

    def prune(self, target_bytes: Optional[int] = None) -> int:
        """Delete the least recently used thumbnails until at most ``target_bytes`` (default 80 % of
        ``max_bytes``) remain, and temporary files left by a crash; returns how many were deleted."""
        target = int(self.max_bytes * 0.8) if target_bytes is None else int(target_bytes)
        with self._prune_lock:
            entries, removed, now = [], 0, time.time()
            for path, st in self._walk(self.folder):
                if path.name.endswith(TMP_SUFFIX):
                    if now - st.st_mtime > _STALE_TMP_S and self._unlink(path, 0):
                        removed += 1
                    continue
                entries.append((st.st_mtime, st.st_size, path))
            total = sum(e[1] for e in entries)
            entries.sort()
            for _mtime, size, path in entries:
                if total <= target:
                    break
                if self._unlink(path, 0):
                    total -= size
                    removed += 1
            with self._lock:
                self._total = total
        return removed

    # -- internals ---------------------------------------------------------------------------------
    def _grew(self, delta: int) -> None:
        with self._lock:
            if self._total is None:
                self._total = sum(st.st_size for p, st in self._walk(self.folder) if not p.name.endswith(TMP_SUFFIX))
            else:
                self._total += delta
            over = self._total > self.max_bytes
        if over and not self._prune_lock.locked():
            self.prune()

    def _unlink(self, path: Path, size: int) -> bool:
        try:
            path.unlink()
        except OSError:
            return False
        if size:
            with self._lock:
                if self._total is not None:
                    self._total = max(0, self._total - size)
        return True

    def _ensure_folder(self, folder: Path) -> None:
        if folder.is_dir():
            return
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.chmod(self.root, 0o700)  # mkdir's mode is masked by the umask
        except OSError:
            pass
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    @staticmethod
    def _walk(top: Path):
        """(path, stat) of every file below ``top`` (any depth); vanished files are skipped."""
        stack = [top]
        while stack:
            d = stack.pop()
            try:
                it = os.scandir(d)
            except OSError:
                continue
            with it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(Path(e.path))
                        elif e.is_file(follow_symlinks=False):
                            yield Path(e.path), e.stat(follow_symlinks=False)
                    except OSError:
                        continue
