"""Discovery under hostile folders: every skip reason counted, nothing special ever opened, no symlink
followed out of the folder or into a loop, odd names (incl. non-UTF-8 bytes) handled, safe reads.

Tests run as root in CI: root ignores permission bits, so 'unreadable' cases that rely on chmod 000
are checked for real only when not root, and with a simulated EACCES (monkeypatched os call) always.
"""

from __future__ import annotations

import io
import os
import socket
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.discovery import DiscoveryStats, FoundFile, discover, read_found
from core.imaging.errors import FileError

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def textured(value: int, size) -> np.ndarray:
    """A (h, w) uint8 image of mean ``value`` that is not blank: 8×8 blocks (aligned with JPEG's, so
    they survive compression exactly) alternating ±6 grey levels, less near 0 and 255."""
    h, w = size[1], size[0]
    amp = max(0, min(6, value, 255 - value))
    y, x = np.mgrid[0:h, 0:w]
    sign = np.where(((y // 8) + (x // 8)) % 2 == 0, 1, -1)
    return (value + amp * sign).astype(np.uint8)


def jpeg_bytes(value: int = 128, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured(value, size)).save(buf, "JPEG")
    return buf.getvalue()


def dicom_bytes(value: int = 1000, rows: int = 32, cols: int = 24, *, preamble: bool = True) -> bytes:
    """A small uncompressed 16-bit MONOCHROME2 DICOM (with or without the Part 10 header)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyDate = ds.SeriesDate = "20240101"
    ds.Modality = "CR"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    arr = np.full((rows, cols), value, np.uint16)
    arr[: rows // 2] = 0
    ds.PixelData = arr.tobytes()
    buf = io.BytesIO()
    if preamble:
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(buf, enforce_file_format=True)
    else:
        ds.save_as(buf, implicit_vr=True, little_endian=True)
    return buf.getvalue()


def run_discover(root: Path, timeout: float = 20.0, **kw) -> tuple[list[FoundFile], DiscoveryStats]:
    """discover() in a thread with a deadline: a FIFO opened by mistake would block it forever."""
    stats = DiscoveryStats()
    out: list = []
    t = threading.Thread(target=lambda: out.extend(discover(root, stats=stats, **kw)), daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "discovery blocked (did it open a FIFO?)"
    return out, stats


def names(found) -> list[str]:
    return [f.path.name for f in found]


def test_extensions_case_insensitive_and_recursive(tmp_path):
    data = jpeg_bytes()
    for rel in ("a.jpg", "B.JPG", "c.Jpeg", "sub/d.png", "sub/deeper/e.TIF", "sub/f.tiff", "g.bmp",
                "h.dcm", "i.DICOM"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    found, stats = run_discover(tmp_path)
    assert names(found) == ["B.JPG", "a.jpg", "c.Jpeg", "g.bmp", "h.dcm", "i.DICOM", "d.png", "f.tiff", "e.TIF"]
    assert stats.found == 9 and stats.done and stats.skipped_total == 0
    f = found[0]
    st = os.stat(f.path)
    assert (f.size, f.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_extensionless_dicom_found_by_content(tmp_path):
    (tmp_path / "IM0001").write_bytes(dicom_bytes())
    (tmp_path / "1.2.840.113619.2.55").write_bytes(dicom_bytes(preamble=False))  # UID-named, headerless
    (tmp_path / "README").write_text("not dicom at all")
    (tmp_path / "9.12").write_bytes(b"\x00" * 10)
    found, stats = run_discover(tmp_path)
    assert names(found) == ["1.2.840.113619.2.55", "IM0001"]
    assert stats.skipped_non_image == 2


def test_hidden_appledouble_and_non_images_skipped_and_counted(tmp_path):
    data = jpeg_bytes()
    (tmp_path / "ok.jpg").write_bytes(data)
    (tmp_path / ".hidden.jpg").write_bytes(data)
    (tmp_path / "._ok.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.jpg").write_bytes(data)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "Thumbs.db").write_bytes(b"\0" * 100)
    found, stats = run_discover(tmp_path)
    assert names(found) == ["ok.jpg"]
    assert stats.skipped_hidden == 3  # .hidden.jpg, ._ok.jpg, .git (a folder counts once)
    assert stats.skipped_non_image == 3
    assert {p.name for p, _ in stats.skipped} == {"notes.txt", "report.pdf", "Thumbs.db"}


def test_fifo_socket_and_device_never_opened(tmp_path, monkeypatch):
    (tmp_path / "ok.jpg").write_bytes(jpeg_bytes())
    os.mkfifo(tmp_path / "pipe.jpg")
    os.mkfifo(tmp_path / "pipe")  # extensionless: would be sniffed if it were a regular file
    monkeypatch.chdir(tmp_path)  # AF_UNIX paths are limited to ~108 bytes: bind a relative name
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind("sock.dcm")
    expected_special = 3
    try:
        os.mknod(tmp_path / "dev.jpg", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
        expected_special += 1
    except (PermissionError, OSError):
        pass  # not root / no CAP_MKNOD: the device case is covered by the symlink test below
    try:
        found, stats = run_discover(tmp_path)
    finally:
        sock.close()
    assert names(found) == ["ok.jpg"]
    assert stats.skipped_special == expected_special
    reasons = dict((p.name, r) for p, r in stats.skipped)
    assert "named pipe" in reasons["pipe.jpg"] and "socket" in reasons["sock.dcm"]


def test_read_found_refuses_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "late.jpg"
    os.mkfifo(fifo)  # e.g. a file swapped for a pipe after discovery
    result = {}

    def target():
        try:
            read_found(fifo)
        except FileError as exc:
            result["err"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive()
    assert "named pipe" in str(result["err"])


def test_symlinks_never_leave_the_folder_and_never_loop(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    data = jpeg_bytes()
    (root / "sub" / "a.jpg").write_bytes(data)
    (outside / "secret.jpg").write_bytes(data)
    (root / "out_dir").symlink_to(outside)  # directory outside
    (root / "out_file.jpg").symlink_to(outside / "secret.jpg")  # file outside
    (root / "devnull.jpg").symlink_to("/dev/null")  # a device, outside
    (root / "sub" / "loop").symlink_to(root)  # loop to the root
    (root / "sub" / "self").symlink_to("self")  # self-referencing link
    (root / "dangling.jpg").symlink_to(root / "gone.jpg")
    (root / "inside.jpg").symlink_to(root / "sub" / "a.jpg")  # inside: followed (a second location)
    found, stats = run_discover(root)
    assert sorted(names(found)) == ["a.jpg", "inside.jpg"]
    assert all(str(f.path).startswith(str(root)) for f in found)
    assert stats.skipped_links == 6
    reasons = {p.name: r for p, r in stats.skipped}
    assert "outside" in reasons["out_dir"] and "outside" in reasons["devnull.jpg"]
    assert "already scanned" in reasons["loop"] and "broken" in reasons["dangling.jpg"]


def test_folder_symlinked_inside_is_walked_once(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    found, stats = run_discover(tmp_path)
    assert names(found) == ["x.jpg"] and stats.skipped_links == 1


def test_odd_names(tmp_path):
    data = jpeg_bytes()
    long_name = "x" * 250 + ".jpg"  # 254 bytes: at the usual NAME_MAX of 255
    for name in ("with space.jpg", "ñandú 骨折 🦴.jpg", long_name, "semi;colon,comma'quote\".jpg", "new\nline.jpg"):
        (tmp_path / name).write_bytes(data)
    raw = os.fsencode(tmp_path) + b"/bad-\xff\xfe-latin1-caf\xe9.jpg"  # not valid UTF-8
    with open(raw, "wb") as fh:
        fh.write(data)
    deep = tmp_path.joinpath(*["d"] * 60)
    deep.mkdir(parents=True)
    (deep / "deep.jpg").write_bytes(data)
    found, stats = run_discover(tmp_path)
    assert stats.found == 7 and not stats.unreadable
    by_bytes = {os.fsencode(f.path): f for f in found}
    assert raw in by_bytes  # the exact bytes round-trip through Path
    for f in found:
        assert read_found(f.path) == data


def test_unreadable_file_reported(tmp_path, monkeypatch):
    target = tmp_path / "locked.jpg"
    target.write_bytes(jpeg_bytes())
    if not IS_ROOT:
        target.chmod(0)
        with pytest.raises(FileError) as info:
            read_found(target)
        assert info.value.kind == FileError.UNREADABLE and "permission denied" in str(info.value)
        target.chmod(0o644)
    real_open = os.open

    def fake_open(path, flags, *a, **k):
        if os.fsdecode(path).endswith("locked.jpg"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", fake_open)
    with pytest.raises(FileError) as info:
        read_found(target)
    assert info.value.kind == FileError.UNREADABLE and "permission denied" in str(info.value)


def test_unreadable_folder_reported_and_walk_goes_on(tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "a.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "b.jpg").write_bytes(jpeg_bytes())
    if IS_ROOT:  # root reads chmod-000 folders: simulate the EACCES the OS gives everyone else
        real_scandir = os.scandir

        def fake_scandir(path):
            if os.fsdecode(path).endswith("locked"):
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", fake_scandir)
    else:
        (tmp_path / "locked").chmod(0)
    try:
        found, stats = run_discover(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert names(found) == ["b.jpg"]
    assert [(p.name, r) for p, r in stats.unreadable] == [("locked", "folder cannot be read: permission denied")]


def test_read_found_limits_and_vanished_files(tmp_path):
    f = tmp_path / "big.jpg"
    f.write_bytes(b"\xff" * 5000)
    with pytest.raises(FileError) as info:
        read_found(f, max_bytes=1000)
    assert info.value.kind == FileError.TOO_LARGE
    with pytest.raises(FileError, match="disappeared"):
        read_found(tmp_path / "gone.jpg")
    assert read_found(f) == b"\xff" * 5000


def test_root_must_be_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(discover(tmp_path / "missing"))
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        list(discover(tmp_path / "file.jpg"))


def test_cancel_stops_discovery(tmp_path):
    data = jpeg_bytes()
    for i in range(50):
        (tmp_path / f"{i:03d}.jpg").write_bytes(data)
    cancel = threading.Event()
    seen = []
    for f in discover(tmp_path, cancel=cancel):
        seen.append(f)
        if len(seen) == 5:
            cancel.set()
    assert len(seen) == 5


def test_path_longer_than_path_max_is_reported_not_fatal(tmp_path):
    (tmp_path / "ok.jpg").write_bytes(jpeg_bytes())
    fd = os.open(tmp_path, os.O_RDONLY)
    try:  # build the tree relative to open folders: the full path is too long for path-based calls
        for _ in range(25):
            os.mkdir("d" * 200, dir_fd=fd)
            nxt = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        img = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(img, jpeg_bytes())
        os.close(img)
    finally:
        os.close(fd)
    found, stats = run_discover(tmp_path)
    assert "ok.jpg" in names(found)
    assert names(found) == ["ok.jpg"]  # the walk goes on; the unreachable folder is reported, not a crash
    assert len(stats.unreadable) == 1 and "path too long for the operating system" in stats.unreadable[0][1]


def dicomdir_bytes() -> bytes:
    """A DICOMDIR as DICOM media carry it: a Part 10 file of SOP class Media Storage Directory
    whose records point at files (here: files that do not exist)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, MediaStorageDirectoryStorage, generate_uid

    ds = Dataset()
    ds.FileSetID = "CD1"
    record = Dataset()
    record.DirectoryRecordType = "IMAGE"
    record.ReferencedFileID = ["DICOM", "IMG0001"]
    ds.DirectoryRecordSequence = Sequence([record])
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MediaStorageDirectoryStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_dicomdir_skipped_silently_and_counted(tmp_path):
    from pydicom.data import get_testdata_file

    (tmp_path / "DICOMDIR").write_bytes(dicomdir_bytes())  # its referenced files are missing: no matter
    cd = tmp_path / "cd"
    cd.mkdir()
    (cd / "DICOMDIR").write_bytes(open(get_testdata_file("DICOMDIR"), "rb").read())  # a real one
    (cd / "IM0001").write_bytes(dicom_bytes())
    found, stats = run_discover(tmp_path)
    assert names(found) == ["IM0001"]
    assert stats.skipped_dicomdir == 2 and stats.skipped_total == 2
    assert stats.skipped == []  # silent: not listed as a skipped file


def test_dicomdir_read_directly_is_not_an_image():
    from core.imaging.reader import read_image

    with pytest.raises(FileError) as err:
        read_image(dicomdir_bytes(), name="DICOMDIR")
    assert err.value.kind == FileError.NOT_AN_IMAGE and "DICOMDIR" in err.value.reason
