"""The thumbnail cache: made from the scan's own decoded image (the file is not decoded again), keyed by
content (a moved file or a re-scan reuses it), lazy generation for images scanned before, damaged and
missing files made again, bounded by pruning the least recently used, cleared on request, local files
only (folder 0700), and a failing cache never stops a scan."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest

import core.imaging.reader as reader
from core.model import load_model
from core.results import SCORED
from core.scan import scan
from core.thumbnails import THUMB_SIDE, ThumbnailCache, make_thumbnail
from tests.core.test_discovery import jpeg_bytes


@pytest.fixture(scope="module")
def model(test_model):
    return load_model(test_model, threads=1)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gradient(h: int, w: int) -> np.ndarray:
    return (np.add.outer(np.arange(h), np.arange(w)) * 255 // max(1, h + w - 2)).astype(np.uint8)


def write_jpeg(path: Path, value: int, size=(300, 200)) -> str:
    data = jpeg_bytes(value, size=size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha(data)


def test_make_thumbnail_keeps_aspect_and_never_enlarges():
    t = make_thumbnail(gradient(1000, 500))
    assert t.dtype == np.uint8 and t.shape == (THUMB_SIDE, THUMB_SIDE // 2)
    assert make_thumbnail(gradient(40, 30)).shape == (40, 30)
    with pytest.raises(ValueError):
        make_thumbnail(np.zeros((4, 4, 3), np.uint8))


def test_put_get_roundtrip_and_folder_is_private(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs")
    image_id = "ab" * 32
    assert cache.get(image_id) is None and not cache.has(image_id)
    made = cache.put(image_id, gradient(600, 400))
    got = cache.get(image_id)
    assert got is not None and np.array_equal(got, made) and got.shape == (128, 85)
    assert cache.path_for(image_id).parent.parent.parent == tmp_path / "thumbs"
    if os.name == "posix":
        assert stat.S_IMODE((tmp_path / "thumbs").stat().st_mode) == 0o700
        assert stat.S_IMODE(cache.path_for(image_id).stat().st_mode) & 0o077 == 0
    assert cache.usage().files == 1


def test_bad_image_ids_are_refused_not_used_as_paths(tmp_path):
    cache = ThumbnailCache(tmp_path)
    for bad in ("../../etc/passwd", "AB" * 32, "ab" * 31, "", None):
        assert cache.get(bad) is None and not cache.has(bad)
        with pytest.raises(ValueError):
            cache.path_for(bad)


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "flipped", "too_big", "rgb"])
def test_damaged_file_is_a_miss_and_is_made_again(tmp_path, damage):
    folder = tmp_path / "x"
    image_id = write_jpeg(folder / "a.jpg", 120)
    cache = ThumbnailCache(tmp_path / "thumbs")
    assert cache.make(image_id, folder / "a.jpg") is not None
    p = cache.path_for(image_id)
    good = p.read_bytes()
    from PIL import Image

    if damage == "empty":
        p.write_bytes(b"")
    elif damage == "truncated":
        p.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        p.write_bytes(os.urandom(500))
    elif damage == "flipped":  # one bit in the pixel data: the PNG checksum catches it
        b = bytearray(good)
        b[len(b) // 2] ^= 0x10
        p.write_bytes(bytes(b))
    elif damage == "too_big":
        Image.fromarray(gradient(400, 400), "L").save(p, "PNG")
    else:
        Image.fromarray(np.zeros((20, 20, 3), np.uint8), "RGB").save(p, "PNG")
    assert cache.get(image_id) is None
    assert not p.exists()  # deleted, so it is made again
    again = cache.make(image_id, folder / "a.jpg")
    assert again is not None and p.read_bytes() == good


def test_make_refuses_a_changed_or_unreadable_file(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs")
    image_id = write_jpeg(tmp_path / "a.jpg", 50)
    write_jpeg(tmp_path / "a.jpg", 200)  # other bytes now
    assert cache.make(image_id, tmp_path / "a.jpg") is None and not cache.has(image_id)
    assert cache.make(image_id, tmp_path / "missing.jpg") is None
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff" + b"\x00" * 2000)
    assert cache.make(sha(bad.read_bytes()), bad) is None


def test_scan_makes_thumbnails_from_its_own_decode(tmp_path, model, monkeypatch):
    folder = tmp_path / "x"
    ids = [write_jpeg(folder / f"{i}.jpg", v) for i, v in enumerate((30, 120, 220))]
    (folder / "dup.jpg").write_bytes((folder / "0.jpg").read_bytes())
    calls = []
    real = reader.read_image
    monkeypatch.setattr(reader, "read_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    cache = ThumbnailCache(tmp_path / "thumbs")
    s = scan(folder, model, workers=2, on_decoded=cache.put_decoded)
    assert s.scored == 3 and s.duplicates == 1
    assert len(calls) == 3  # one decode per image, thumbnails included
    for image_id in ids:
        t = cache.get(image_id)  # from the scan's reduced-scale decode (long side ≥ the model's 64)
        assert t is not None and 64 <= max(t.shape) <= THUMB_SIDE and t.shape[1] > t.shape[0]
    assert cache.usage().files == 3
    # the scan's thumbnail shows what the viewer shows first: the image as acquired
    shown = make_thumbnail(real((folder / "1.jpg").read_bytes()).grey, max(cache.get(ids[1]).shape))
    assert shown.shape == cache.get(ids[1]).shape
    assert float(np.abs(shown.astype(int) - cache.get(ids[1])).mean()) < 4


def test_rescan_and_moved_file_reuse_the_thumbnail(tmp_path, model):
    folder = tmp_path / "x"
    image_id = write_jpeg(folder / "a.jpg", 90)
    cache = ThumbnailCache(tmp_path / "thumbs")
    scan(folder, model, workers=1, on_decoded=cache.put_decoded)
    p = cache.path_for(image_id)
    before = p.stat().st_mtime_ns
    other = tmp_path / "y"
    other.mkdir()
    os.replace(folder / "a.jpg", other / "b.jpg")
    s = scan(other, model, workers=1, on_decoded=cache.put_decoded)
    assert s.items[0].status == SCORED and s.items[0].image_id == image_id
    assert p.stat().st_mtime_ns == before  # not written again
    assert cache.usage().files == 1


def test_a_failing_cache_never_stops_the_scan(tmp_path, model, caplog):
    folder = tmp_path / "x"
    write_jpeg(folder / "a.jpg", 90)
    write_jpeg(folder / "b.jpg", 180)

    def broken(_image_id, _decoded):
        raise OSError(28, "No space left on device")

    s = scan(folder, model, workers=1, on_decoded=broken)
    assert s.scored == 2 and s.failed == 0
    assert "on_decoded hook failed" in caplog.text


def test_unwritable_cache_folder_still_returns_thumbnails(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ThumbnailCache(blocker / "thumbs")
    t = cache.put("cd" * 32, gradient(300, 300))
    assert t is not None and t.shape == (128, 128)
    assert cache.get("cd" * 32) is None


def _fill(cache: ThumbnailCache, n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = []
    for i in range(n):
        image_id = sha(f"{seed}-{i}".encode())
        cache.put(image_id, rng.integers(0, 255, (128, 128), dtype=np.uint8))  # noise: ~16 KB each
        old = time.time() - 10_000 + i  # oldest first
        os.utime(cache.path_for(image_id), (old, old))
        ids.append(image_id)
    return ids


def test_prune_deletes_least_recently_used_down_to_target(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs", max_bytes=10**9)
    ids = _fill(cache, 10)
    size = cache.usage().bytes // 10
    stale = cache.path_for(ids[0]).parent / ".x.png-123.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200,) * 2)
    cache.get(ids[1])  # read now: most recently used
    removed = cache.prune(target_bytes=int(size * 4.5))
    assert removed == 7  # 6 thumbnails + the crash's temporary file
    assert not stale.exists()
    kept = {i for i in ids if cache.has(i)}
    assert kept == {ids[1], ids[7], ids[8], ids[9]}


def test_cache_stays_bounded_while_writing(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs", max_bytes=100_000)
    ids = _fill(cache, 30)
    usage = cache.usage()
    assert usage.bytes <= 100_000 and usage.files < 30
    assert cache.has(ids[-1])  # the newest survive


def test_clear_deletes_everything(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs")
    _fill(cache, 3)
    (tmp_path / "thumbs" / "v0-64").mkdir()
    (tmp_path / "thumbs" / "v0-64" / "old.png").write_bytes(b"x")
    gone = cache.clear()
    assert gone.files == 4 and cache.usage().files == 0
    assert not (tmp_path / "thumbs").exists()
    assert cache.put("ab" * 32, gradient(50, 50)) is not None and cache.has("ab" * 32)  # usable again


def test_default_cache_is_in_the_user_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FRACTURE_TRIAGE_HOME", str(tmp_path))
    assert ThumbnailCache.default().root == tmp_path / "cache" / "thumbnails"
