"""Finding the images under a chosen folder, and reading a found file safely.

``discover`` walks the folder recursively (sorted, deterministic) and yields regular files that are
images by extension (case-insensitive) or, for extensionless / numeric-suffix names, by content
(``core.imaging.is_dicom``). It never opens anything that is not a regular file (a FIFO would block
forever, a device could be endless), never follows a symlink out of the folder or into a loop
(directories are tracked by (st_dev, st_ino)), skips hidden files and folders, ``._*`` AppleDouble
files and DICOMDIR index files (by content: a DICOM CD's index, not an image), and counts what it
skipped. Odd names (spaces, unicode, non-UTF-8 bytes via surrogateescape)
are ordinary ``Path`` objects; ``os.fsencode(path)`` gives back the exact bytes.

``read_found(path)`` reads one file into memory with the same guards (O_NONBLOCK, fstat S_ISREG) and
turns every OS failure into a ``FileError``.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from core.imaging.errors import FileError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".dcm", ".dicom"})
SNIFF_BYTES = 1024  # enough for the 128-byte preamble + 'DICM', or a headerless dataset's first elements
MAX_FILE_BYTES = 1 << 30  # 1 GiB: no radiograph is bigger; refuse before reading it into memory
MAX_SKIPPED_LISTED = 100_000  # skipped paths kept for reports (the counts stay exact beyond this)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


@dataclass(frozen=True)
class FoundFile:
    path: Path
    size: int
    mtime_ns: int


@dataclass
class DiscoveryStats:
    """What discovery saw besides the images it yielded. Updated while iterating (thread-safe reads of
    the ints are fine; lists only grow)."""

    found: int = 0
    skipped_hidden: int = 0  # hidden files/folders and ._* AppleDouble files (silent)
    skipped_non_image: int = 0
    skipped_special: int = 0  # FIFOs, sockets, devices (never opened)
    skipped_links: int = 0  # symlinks out of the folder, broken, or into a folder already walked (loop)
    skipped_dicomdir: int = 0  # DICOMDIR index files of DICOM media (silent: an index, not an image)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # could not list/stat: (path, reason)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # non-image/special/link: (path, reason)
    done: bool = False  # the walk has finished (found is final)

    @property
    def skipped_total(self) -> int:
        return (self.skipped_hidden + self.skipped_non_image + self.skipped_special + self.skipped_links
                + self.skipped_dicomdir)

    def _skip(self, path: Path, reason: str) -> None:
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append((path, reason))


def _resolve_is_dicom() -> Callable[[bytes], bool]:
    from core.imaging.dicom import is_dicom  # imported on first need

    return is_dicom


def _is_dicomdir(head: bytes) -> bool:
    from core.imaging.dicom import is_dicomdir

    return is_dicomdir(head)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ENAMETOOLONG:
        return "path too long for the operating system"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    return exc.strerror or str(exc)


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "not a regular file"


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _read_head(path: Path, n: int) -> bytes:
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return os.read(fd, n)
    finally:
        os.close(fd)


def _needs_sniff(name: str) -> bool:
    suffix = os.path.splitext(name)[1]
    return suffix == "" or suffix[1:].isdigit()  # 'IM0001', '1.2.840.10008.5.1' (UID-named DICOM)


def discover(
    root: Path,
    *,
    cancel: Optional[threading.Event] = None,
    stats: Optional[DiscoveryStats] = None,
) -> Iterator[FoundFile]:
    """Yield the images under ``root`` (see module docstring). ``root`` itself must be a directory
    (``NotADirectoryError`` / ``FileNotFoundError`` otherwise)."""
    stats = stats if stats is not None else DiscoveryStats()
    root = Path(root)
    st_root = os.stat(root)
    if not stat.S_ISDIR(st_root.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(root))
    real_root = os.path.realpath(root)
    visited: set[tuple[int, int]] = {(st_root.st_dev, st_root.st_ino)}
    is_dicom: Optional[Callable[[bytes], bool]] = None
    stack: list[Path] = [root]
    try:
        while stack:
            if cancel is not None and cancel.is_set():
                return
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                stats.unreadable.append((folder, f"folder cannot be read: {_os_reason(exc)}"))
                continue
            subdirs: list[Path] = []
            for entry in entries:
                if cancel is not None and cancel.is_set():
                    return
                name = entry.name
                path = folder / name
                if name.startswith("."):  # hidden, incl. '._*' AppleDouble
                    stats.skipped_hidden += 1
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISLNK(st.st_mode):
                        try:
                            real = os.path.realpath(path, strict=True)
                        except OSError as exc:
                            stats.skipped_links += 1
                            stats._skip(path, f"broken symbolic link ({_os_reason(exc)})")
                            continue
                        if not _inside(real, real_root):
                            stats.skipped_links += 1
                            stats._skip(path, "symbolic link to outside the folder (not followed)")
                            continue
                        st = os.stat(path)
                except OSError as exc:
                    stats.unreadable.append((path, f"cannot be read: {_os_reason(exc)}"))
                    continue
                mode = st.st_mode
                if stat.S_ISDIR(mode):
                    key = (st.st_dev, st.st_ino)
                    if key in visited:
                        stats.skipped_links += 1
                        stats._skip(path, "folder already scanned (symbolic link loop or repeat)")
                        continue
                    visited.add(key)
                    subdirs.append(path)
                    continue
                if not stat.S_ISREG(mode):
                    stats.skipped_special += 1
                    stats._skip(path, f"{_special_kind(mode)}: not opened")
                    continue
                ext = os.path.splitext(name)[1].lower()
                named_dicomdir = name.upper().startswith("DICOMDIR")
                if ext not in IMAGE_EXTENSIONS or named_dicomdir:
                    if not (_needs_sniff(name) or named_dicomdir):
                        stats.skipped_non_image += 1
                        stats._skip(path, f"not an image file ({ext})")
                        continue
                    if is_dicom is None:
                        is_dicom = _resolve_is_dicom()
                    try:
                        head = _read_head(path, SNIFF_BYTES)
                    except OSError as exc:
                        stats.unreadable.append((path, f"cannot be read: {_os_reason(exc)}"))
                        continue
                    if _is_dicomdir(head):  # the index of a DICOM CD/USB export; its images are found by content
                        stats.skipped_dicomdir += 1
                        continue
                    if ext not in IMAGE_EXTENSIONS and not is_dicom(head):
                        stats.skipped_non_image += 1
                        stats._skip(path, "not an image file (no extension, not DICOM)")
                        continue
                stats.found += 1
                yield FoundFile(path, st.st_size, st.st_mtime_ns)
            stack.extend(reversed(subdirs))  # depth-first, in name order
    finally:
        stats.done = True


def read_found(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The whole file as bytes, read once (the caller hashes and decodes these same bytes).

    Opens non-blocking and checks with fstat that it is a regular file before reading (a file swapped
    for a FIFO after discovery is still never read). Raises only ``FileError``.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise FileError("file disappeared before it could be read", FileError.UNREADABLE) from None
    except OSError as exc:
        raise FileError(f"cannot open file: {_os_reason(exc)}", FileError.UNREADABLE) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileError(f"{_special_kind(st.st_mode)}: not read", FileError.UNSUPPORTED)
        if st.st_size > max_bytes:
            raise FileError(
                f"file is {st.st_size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit",
                FileError.TOO_LARGE,
            )
        chunks = []
        total = 0
        want = st.st_size + 1  # one more byte than expected detects growth in one extra read
        while True:
            block = os.read(fd, max(want - total, 1 << 16))
            if not block:
                break
            chunks.append(block)
            total += len(block)
            if total > max_bytes:
                raise FileError("file grew past the size limit while being read", FileError.TOO_LARGE)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as exc:
        raise FileError(f"cannot read file: {_os_reason(exc)}", FileError.UNREADABLE) from None
    finally:
        os.close(fd)
