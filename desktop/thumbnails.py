"""Worklist thumbnails for the table: read from the local thumbnail cache (``core.thumbnails``) — or made
from the file on a miss (images scanned before thumbnails existed) — on the task runner's worker pool,
never on the GUI thread, and kept as ready-to-paint pixmaps in a least-recently-used memory cache so
scrolling through 10,000 rows stays quick.

``icon(image_id, path)`` answers at once: the thumbnail when it is in memory, else None after queueing
the image (an icon whose selected look is the image itself: a radiograph is never tinted); ``ready(image_id)`` (GUI thread) says it has arrived. Requests are served newest first (the
rows on screen now), at most ``max_pending`` are kept (older ones are forgotten, and asked again if
their row is painted again), and one small batch at a time runs on the pool, so the viewer's own
decoding always finds a free worker. Nothing here is written to the database, an export or a log.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

log = logging.getLogger("fracture_triage.desktop.thumbnails")

BATCH = 4  # images per worker task (a cache hit takes well under a millisecond)


def thumb_qimage(thumb: np.ndarray, side: int) -> QImage:
    """uint8 (H, W) thumbnail → an owned ``side``×``side`` QImage: scaled to fit, centred on black (like
    the radiograph's own background), so every row's file name starts at the same place (worker thread)."""
    img = Image.fromarray(np.ascontiguousarray(thumb, dtype=np.uint8), "L")
    if max(img.size) > side:
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
    elif max(img.size) < side:  # a thumbnail smaller than the icon (a tiny image): enlarged to fit
        scale = side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.BILINEAR)
    square = Image.new("L", (side, side), 0)
    square.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    a = np.ascontiguousarray(np.asarray(square, dtype=np.uint8))
    return QImage(a.data, side, side, side, QImage.Format.Format_Grayscale8).copy()


class ThumbnailLoader(QObject):
    """Thumbnails for the table's rows, by image id (see the module docstring)."""

    ready = Signal(str)  # image_id: its pixmap is in memory now (GUI thread)

    def __init__(self, tasks, cache, *, side: int = 36, capacity: int = 3000, max_pending: int = 256,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self.cache = cache  # core.thumbnails.ThumbnailCache, or None (no thumbnails at all)
        self.enabled = cache is not None
        self._side = side
        self._ratio = 1.0
        self._capacity = capacity
        self._max_pending = max_pending
        self._icons: OrderedDict[str, QIcon] = OrderedDict()
        self._pending: OrderedDict[str, Path] = OrderedDict()  # newest request last
        self._failed: set[str] = set()  # no thumbnail can be made (unreadable, changed file)
        self._busy = False
        self._clearing = False  # the cache on disk is being deleted: make nothing meanwhile
        self._gen = 0
        self.placeholder = QIcon()
        self._make_placeholder()

    # -- asking --------------------------------------------------------------------------------------
    @property
    def side(self) -> int:
        return self._side

    def set_size(self, side: int, device_ratio: float = 1.0) -> None:
        """Pixmaps ``side`` logical pixels square (sharp at ``device_ratio``); a change drops the memory cache."""
        if (side, device_ratio) != (self._side, self._ratio):
            self._side, self._ratio = int(side), float(device_ratio)
            self._forget()
            self._make_placeholder()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on) and self.cache is not None
        if not self.enabled:
            self._forget()

    def icon(self, image_id: str, path: Path | str) -> Optional[QIcon]:
        """The thumbnail of ``image_id`` if in memory; otherwise None, and it is loaded (``ready`` follows)."""
        if not self.enabled or not image_id:
            return None
        icon = self._icons.get(image_id)
        if icon is not None:
            self._icons.move_to_end(image_id)
            return icon
        if image_id not in self._failed and not self._clearing:
            self._pending.pop(image_id, None)
            self._pending[image_id] = Path(path)
            while len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)
            self._pump()
        return None

    def failed(self, image_id: str) -> bool:
        return image_id in self._failed

    # -- loading (worker pool) -----------------------------------------------------------------------
    def _pump(self) -> None:
        if self._busy or not self._pending or not self.enabled:
            return
        jobs = [self._pending.popitem(last=True) for _ in range(min(BATCH, len(self._pending)))]
        cache, px, gen = self.cache, max(1, round(self._side * self._ratio)), self._gen
        self._busy = True

        def work():
            out = []
            for image_id, path in jobs:
                try:
                    thumb = cache.make(image_id, path)
                except Exception:  # noqa: BLE001 - one bad file must not stop the others
                    log.warning("thumbnail for image %s… failed", image_id[:12], exc_info=True)
                    thumb = None
                out.append((image_id, None if thumb is None else thumb_qimage(thumb, px)))
            return out

        def done(results) -> None:
            self._busy = False
            if gen == self._gen:
                for image_id, img in results:
                    if img is None:
                        self._failed.add(image_id)
                        continue
                    pm = QPixmap.fromImage(img)
                    pm.setDevicePixelRatio(self._ratio)
                    self._icons[image_id] = _untinted(pm)
                    while len(self._icons) > self._capacity:
                        self._icons.popitem(last=False)
                    self.ready.emit(image_id)
            self._pump()

        def failed(exc: BaseException) -> None:
            self._busy = False
            log.warning("thumbnails could not be loaded (%s)", type(exc).__name__)
            self._pump()

        if not self._tasks.run_in_background(work, done, failed):  # shut down (window closing)
            self._busy = False

    # -- clearing ------------------------------------------------------------------------------------
    def clear_cache(self, on_done=None, on_error=None) -> None:
        """Delete the thumbnail cache on disk (worker pool) and forget the pixmaps in memory;
        ``on_done(core.thumbnails.CacheUsage)`` gets what was deleted."""
        self._forget()
        if self.cache is None:
            if on_done is not None:
                on_done(None)
            return
        self._clearing = True

        def done(gone) -> None:
            self._clearing = False
            if on_done is not None:
                on_done(gone)

        def failed(exc: BaseException) -> None:
            self._clearing = False
            if on_error is None:
                raise exc
            on_error(exc)

        self._tasks.run_in_background(self.cache.clear, done, failed)

    def _forget(self) -> None:
        self._gen += 1
        self._icons.clear()
        self._pending.clear()
        self._failed.clear()
        self._busy = False

    def _make_placeholder(self) -> None:
        """What a row shows while its thumbnail loads, or when it has none: keeps the names aligned."""
        px = max(1, round(self._side * self._ratio))
        pm = QPixmap(QSize(px, px))
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#20262c"))
        p.drawRoundedRect(0, 0, px, px, px * 0.08, px * 0.08)
        p.end()
        pm.setDevicePixelRatio(self._ratio)
        self.placeholder = _untinted(pm)


def _untinted(pm: QPixmap) -> QIcon:
    """An icon that looks the same in a selected row (Qt would tint it with the highlight colour)."""
    icon = QIcon()
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
        icon.addPixmap(pm, mode)
    return icon
