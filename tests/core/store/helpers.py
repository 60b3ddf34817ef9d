"""Test helpers for the store, worklist, triage, export and import tests: a fresh database per test
and ScanItems made without the scan pipeline."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

from core.model.card import Thresholds as _Thresholds
from core.results import DicomMeta, ImageMeta, ScanItem


def Thresholds(suspicious: float = 0.3, definite: float = 0.7) -> _Thresholds:  # noqa: N802 - reads as the class
    """The app's own ``core.model.card.Thresholds`` with the cut-offs these tests use by default."""
    return _Thresholds(suspicious, definite)


def db_url(tmp_path: Path, name: str = "labels.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def open_test_store(tmp_path: Path, name: str = "labels.db"):
    from core.store import open_store

    return open_store(db_url(tmp_path, name), backups_keep=0)


def fake_id(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def item(
    path: Path,
    n: int | str,
    prob: Optional[float],
    *,
    status: str = "scored",
    model: str = "m1",
    image_id: Optional[str] = None,
    body_part: Optional[str] = None,
    fmt: str = "PNG",
) -> ScanItem:
    dicom = DicomMeta(modality="DX", body_part=body_part, view_position="AP") if body_part else None
    return ScanItem(
        path=Path(path),
        size=100 + len(str(n)),
        mtime_ns=1_700_000_000_000_000_000,
        status=status,
        image_id=image_id or fake_id(n),
        probability=prob,
        model_version=model if prob is not None else None,
        meta=ImageMeta(width=64, height=48, format="DICOM" if body_part else fmt, dicom=dicom),
    )


def error_item(path: Path, why: str = "truncated JPEG") -> ScanItem:
    return ScanItem(path=Path(path), size=5, mtime_ns=1, status="error", error=why, error_kind="truncated")


def fill(store, root: Path, probs: list[Optional[float]], *, model: str = "m1") -> list[ScanItem]:
    items = [item(root / f"img{i:04d}.png", i, p, model=model) for i, p in enumerate(probs)]
    store.record_scan_results(root, items)
    return items


def mount_small_disk(where: Path, size: str = "1m"):
    """Mount a tmpfs of ``size`` at ``where`` (needs root and mount rights, as in CI's container);
    returns an unmount function, or None when mounting is not possible here."""
    import subprocess

    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None

    def unmount() -> None:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)

    return unmount


def remount_read_only(where: Path) -> bool:
    import subprocess

    return subprocess.run(["mount", "-o", "remount,ro", str(where)], capture_output=True, timeout=20).returncode == 0


def fill_disk(where: Path) -> None:
    """Write a file until the disk at ``where`` has no space left."""
    import os

    fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
