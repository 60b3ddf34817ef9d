"""Worklist thumbnails (offscreen, waiting on signals): the scan makes them from its own decode and the
table shows them as rows arrive; images scanned before (a cache miss) get theirs made lazily on the
worker pool, never on the GUI thread; the loader serves the newest requests first and forgets old
ones; thumbnails can be hidden (none made then) and the cache cleared; nothing reaches the database."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage

import core.imaging.reader as reader
from core.settings import Settings
from core.thumbnails import THUMB_SIDE, ThumbnailCache
from desktop.tasks import TaskRunner
from desktop.thumbnails import ThumbnailLoader
from desktop.worklist_model import COL_FILE
from tests.desktop.conftest import LEVELS, N_IMAGES, make_image_folder

DECO = Qt.ItemDataRole.DecorationRole


def image_ids(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("xray_*.png"))}


def lazy_decodes(monkeypatch) -> list:
    """Record every decode the thumbnail cache makes itself (its lazy path asks for reduce_to=THUMB_SIDE)."""
    calls = []
    real = reader.read_image

    def spy(*a, **k):
        if k.get("reduce_to") == THUMB_SIDE:
            calls.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(reader, "read_image", spy)
    return calls


def wait_all_thumbnails(qtbot, w):
    """Ask the table for every row's decoration (as painting does) until each is a real thumbnail."""
    m = w.worklist.model
    loader = w.thumbnails

    def all_there():
        for r in range(m.rowCount()):
            it = m.item(r)
            if it.error is None and m.data(m.index(r, COL_FILE), DECO) is loader.placeholder:
                return False
        return True

    qtbot.waitUntil(all_there, timeout=30000)


def test_scan_makes_the_thumbnails_and_the_table_shows_them(make_window, tmp_path, qtbot, monkeypatch):
    folder = make_image_folder(tmp_path / "xrays")
    cache = ThumbnailCache(tmp_path / "thumbs")
    lazy = lazy_decodes(monkeypatch)
    w = make_window(thumbnails=cache)
    arrived = []
    w.thumbnails.ready.connect(arrived.append)
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    ids = image_ids(folder)
    assert all(cache.has(i) for i in ids.values())  # made by the scan's decode threads
    wait_all_thumbnails(qtbot, w)
    assert lazy == []  # nothing was decoded a second time for a thumbnail
    m = w.worklist.model
    side = w.thumbnails.side
    for r in range(m.rowCount()):
        it = m.item(r)
        icon = m.data(m.index(r, COL_FILE), DECO)
        assert isinstance(icon, QIcon)
        if it.error:
            assert icon is w.thumbnails.placeholder  # unreadable file: a blank square keeps names aligned
            continue
        pm = icon.pixmap(side, side)
        assert (pm.width(), pm.height()) == (side, side)  # every thumbnail square (padded): names aligned
        sel = icon.pixmap(QSize(side, side), QIcon.Mode.Selected).toImage()
        assert sel.convertToFormat(QImage.Format.Format_Grayscale8) == pm.toImage().convertToFormat(
            QImage.Format.Format_Grayscale8)  # a selected row shows the image untinted
        level = LEVELS[int(it.name[5:7])]
        grey = pm.toImage().convertToFormat(QImage.Format.Format_Grayscale8)
        mean = float(np.frombuffer(grey.constBits(), np.uint8, grey.sizeInBytes()).mean())
        assert abs(mean - level) < 8  # the image itself, as acquired
    assert set(arrived) >= set(ids.values())
    assert w.worklist.table.iconSize().height() == side
    assert w.worklist.table.verticalHeader().defaultSectionSize() >= side + 6


def test_images_scanned_before_get_thumbnails_lazily_off_the_gui_thread(make_window, tmp_path, qtbot, monkeypatch):
    folder = make_image_folder(tmp_path / "xrays", corrupt=False)
    w = make_window(settings=Settings(show_thumbnails=False), thumbnails=ThumbnailCache(tmp_path / "thumbs"))
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    assert w.thumb_cache.usage().files == 0  # hidden: none made
    assert w.worklist.model.data(w.worklist.model.index(0, COL_FILE), DECO) is None
    w.close()

    cache = ThumbnailCache(tmp_path / "thumbs")
    lazy = lazy_decodes(monkeypatch)
    w2 = make_window(thumbnails=cache)
    with qtbot.waitSignal(w2.scan_done, timeout=60000) as blocker:
        w2.open_folder(folder)
    assert blocker.args[0].reused == N_IMAGES  # known files: the scan decodes nothing
    wait_all_thumbnails(qtbot, w2)
    assert len(lazy) == N_IMAGES  # each made once, from the file
    assert all(name != threading.main_thread().name for name in lazy)
    assert all(cache.has(i) for i in image_ids(folder).values())


def test_loader_newest_first_bounded_and_failures_remembered(qtbot, tmp_path):
    tasks = TaskRunner(workers=2)
    try:
        folder = make_image_folder(tmp_path / "x", corrupt=False)
        ids = image_ids(folder)
        cache = ThumbnailCache(tmp_path / "thumbs")
        loader = ThumbnailLoader(tasks, cache, side=32, max_pending=3)
        names = sorted(ids)
        # the first request starts at once; of the next five only the newest three are kept
        for n in names[:6]:
            assert loader.icon(ids[n], folder / n) is None
        qtbot.waitUntil(lambda: tasks.pending == 0, timeout=30000)
        got = {n for n in names if loader.icon(ids[n], folder / n) is not None and n in names[:6]}
        assert got == {names[0], names[3], names[4], names[5]}
        pm = loader.icon(ids[names[0]], folder / names[0]).pixmap(32, 32)
        assert (pm.width(), pm.height()) == (32, 32)
        missing = "0" * 64
        assert loader.icon(missing, tmp_path / "gone.png") is None
        qtbot.waitUntil(lambda: tasks.pending == 0, timeout=30000)
        assert loader.failed(missing)
        assert loader.icon(missing, tmp_path / "gone.png") is None and tasks.pending == 0  # not asked again
        loader.set_enabled(False)
        assert loader.icon(ids[names[0]], folder / names[0]) is None and tasks.pending == 0
    finally:
        tasks.shutdown()


def test_hide_thumbnails_and_clear_the_cache(make_window, tmp_path, qtbot):
    folder = make_image_folder(tmp_path / "xrays")
    w = make_window(thumbnails=ThumbnailCache(tmp_path / "thumbs"))
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    wait_all_thumbnails(qtbot, w)
    m = w.worklist.model
    w.on_action("thumbnails")  # View › Thumbnails in the worklist: off
    assert not w.actions["thumbnails"].isChecked() and w.settings.show_thumbnails is False
    assert Settings.load(w.settings_path).show_thumbnails is False
    assert m.data(m.index(0, COL_FILE), DECO) is None
    assert w.worklist.table.verticalHeader().defaultSectionSize() < w.thumbnails.side
    assert w.session.thumbnails is None  # the next scan makes none

    assert w.thumb_cache.usage().files == N_IMAGES
    with qtbot.waitSignal(w.thumbnails_cleared, timeout=30000) as blocker:  # View › Clear the thumbnail cache
        w.clear_thumbnails(confirm=False)
    assert blocker.args[0].files == N_IMAGES
    assert w.thumb_cache.usage().files == 0 and not w.thumb_cache.root.exists()
    assert "Thumbnail cache cleared: 8 files" in w.review.toast.text()

    w.on_action("thumbnails")  # on again: made again from the files, as the rows are shown
    assert w.settings.show_thumbnails and w.session.thumbnails is w.thumb_cache
    wait_all_thumbnails(qtbot, w)
    assert w.thumb_cache.usage().files == N_IMAGES


def test_clearing_while_thumbnails_are_shown_deletes_cleanly(make_window, tmp_path, qtbot, caplog):
    folder = make_image_folder(tmp_path / "xrays")
    w = make_window(thumbnails=ThumbnailCache(tmp_path / "thumbs"))
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    wait_all_thumbnails(qtbot, w)
    with qtbot.waitSignal(w.thumbnails_cleared, timeout=30000) as blocker:
        w.clear_thumbnails(confirm=False)
    assert blocker.args[0].files == N_IMAGES
    assert "could not delete" not in caplog.text
    wait_all_thumbnails(qtbot, w)  # shown again (made again from the files)


def test_thumbnails_never_reach_the_database(make_window, tmp_path, qtbot, db_url):
    folder = make_image_folder(tmp_path / "xrays")
    w = make_window(thumbnails=ThumbnailCache(tmp_path / "thumbs"))
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    wait_all_thumbnails(qtbot, w)
    assert w.thumb_cache.usage().files == N_IMAGES
    w.close()
    db = Path(db_url[len("sqlite:///"):])
    blob = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))  # with the WAL
    assert b"\x89PNG" not in blob and b"IDAT" not in blob


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_rows_fit_with_thumbnails(make_window, tmp_path, qtbot, size):
    folder = make_image_folder(tmp_path / "xrays")
    w = make_window(thumbnails=ThumbnailCache(tmp_path / "thumbs"))
    w.resize(*size)
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(folder)
    t = w.worklist.table
    rows_visible = t.viewport().height() // t.verticalHeader().defaultSectionSize()
    assert rows_visible >= 10  # a worklist, not a gallery
