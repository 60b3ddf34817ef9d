"""Decoding images for the viewer ahead of time, off the GUI thread.

``load_for_viewer`` (runs on a worker thread of the task runner) reads a file with the core reader
(full resolution, keeping DICOM modality values for window/level), re-hashes the bytes it read (a
file replaced since the scan is not shown under its old image id: ``LoadedImage.changed``), builds the
Qt image, the window presets (``core.imaging.presets``) and, when the model has a class-activation
output, the heatmap overlay (``core.imaging.heatmap``). ``ImageCache`` keeps the few most recent
results and prefetches the next images, so moving to the next image shows it at once.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from core.imaging.errors import FileError
from core.imaging.heatmap import heatmap_rgba
from core.imaging.presets import Preset, compute_presets
from core.imaging.preprocess import letterbox, to_tensor
from core.imaging.reader import is_dicom, read_image

CHANGED_MESSAGE = ("This file has changed since it was scanned (same name, different image). It is being "
                   "scored again; decide once its new score is shown.")
log = logging.getLogger("fracture_triage.desktop.prefetch")


@dataclass
class LoadedImage:
    """Everything the viewer needs to show one image (built on a worker thread)."""

    image_id: str
    path: Path
    grey: Optional[np.ndarray] = field(default=None, repr=False)  # uint8 display image as read
    raw: Optional[np.ndarray] = field(default=None, repr=False)  # float32 DICOM modality values
    qimage: Optional[QImage] = field(default=None, repr=False)
    width: int = 0
    height: int = 0
    format: str = ""
    notes: tuple[str, ...] = ()
    window: Optional[tuple[float, float]] = None  # window that made ``grey`` from ``raw``
    window_function: str = "LINEAR"
    inverted: bool = False  # the reader inverted raw → grey (MONOCHROME1)
    presets: list[Preset] = field(default_factory=list)  # as read, the file's windows, data-driven
    presentation_lut: Optional[np.ndarray] = field(default=None, repr=False)  # DICOM Presentation LUT curve
    screen_only: dict[str, str] = field(default_factory=dict, repr=False)  # never logged/stored
    body_part: str = ""
    view: str = ""
    heatmap: Optional[QImage] = field(default=None, repr=False)
    error: str = ""
    actual_id: str = ""  # SHA-256 of the bytes decoded now ("" when the file could not be read)

    @property
    def changed(self) -> bool:
        """The file's bytes are no longer those scanned as ``image_id`` (same path, another image)."""
        return bool(self.actual_id) and self.actual_id != self.image_id

    @property
    def source(self) -> Optional[np.ndarray]:
        """The values window/level works on: DICOM modality values, else the 8-bit image."""
        return self.raw if self.raw is not None else self.grey


def grey_qimage(grey: np.ndarray) -> QImage:
    """uint8 (H, W) → an owned QImage (safe to hand across threads)."""
    a = np.ascontiguousarray(grey, dtype=np.uint8)
    h, w = a.shape
    return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def heatmap_image(cam: np.ndarray, src_w: int, src_h: int, size: int) -> Optional[QImage]:
    """The class-activation overlay (``core.imaging.heatmap.heatmap_rgba``) as an owned QImage."""
    rgba = heatmap_rgba(cam, src_w, src_h, size)
    if rgba is None:
        return None
    h, w = rgba.shape[:2]
    return QImage(rgba.data, w, h, w * 4, QImage.Format.Format_RGBA8888).copy()


def load_for_viewer(image_id: str, path: Path, *, model=None, cam: Optional[np.ndarray] = None) -> LoadedImage:
    """Decode ``path`` at full resolution for display (worker thread). Never raises for a bad file:
    the reason is in ``LoadedImage.error``."""
    out = LoadedImage(image_id=image_id, path=Path(path))
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        out.error = f"The file can no longer be read ({exc.strerror or exc}). Was it moved or deleted?"
        return out
    out.actual_id = hashlib.sha256(data).hexdigest()  # the bytes shown are the bytes decided on
    if out.changed:
        out.error = CHANGED_MESSAGE
        return out
    try:
        looks_dicom = data[128:132] == b"DICM" or Path(path).suffix.lower() == ".dcm" or is_dicom(data[:1024])
        dec = read_image(data, name=Path(path).name, keep_raw=looks_dicom)
    except FileError as exc:
        out.error = str(exc)
        return out
    out.grey = np.ascontiguousarray(dec.grey)
    out.raw = dec.raw if dec.format == "DICOM" and dec.raw is not None else None
    out.width, out.height, out.format, out.notes = dec.width, dec.height, dec.format, tuple(dec.notes)
    out.window, out.inverted = dec.window, bool(dec.inverted)
    out.window_function = getattr(dec, "window_function", "LINEAR") or "LINEAR"
    out.presentation_lut = dec.presentation_lut if out.raw is not None else None
    out.screen_only = dict(dec.screen_only or {})
    dm = dec.meta.dicom if dec.meta is not None else None
    if dm is not None:
        out.body_part, out.view = dm.body_part or "", dm.view_position or ""
    out.qimage = grey_qimage(out.grey)
    out.presets = compute_presets(out.source, out.window if out.raw is not None else None,
                                  inverted=out.raw is not None and out.inverted,
                                  file_windows=dec.file_windows if out.raw is not None else (),
                                  function=out.window_function)
    if model is not None and (cam is not None or model_has_cam(model)):
        try:
            if cam is None:
                canvas, _ = letterbox(out.grey, model.input_size)
                pred = model.predict(to_tensor(canvas), with_cam=True)
                cam = pred.cams[0] if pred.cams is not None else None
            if cam is not None:
                out.heatmap = heatmap_image(cam, out.grey.shape[1], out.grey.shape[0], model.input_size)
        except Exception:  # noqa: BLE001 - no heatmap is better than no image; the reason goes to the log
            log.warning("no heatmap for %s", image_id[:12], exc_info=True)
    return out


def model_has_cam(model) -> bool:
    try:
        return bool(model.card.has_cam)
    except AttributeError:
        return False


class ImageCache(QObject):
    """Least-recently-used cache of decoded images, filled by the task runner's worker pool."""

    loaded = Signal(str)  # image_id, on the GUI thread, when a requested image is ready
    file_changed = Signal(str, str)  # image_id, path: the file now holds other bytes than that image

    def __init__(self, tasks, model_getter: Callable[[], object], capacity: int = 8, parent: QObject | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._model_getter = model_getter
        self._capacity = capacity
        self._items: OrderedDict[str, LoadedImage] = OrderedDict()
        self._in_flight: set[str] = set()

    def get(self, image_id: str) -> Optional[LoadedImage]:
        item = self._items.get(image_id)
        if item is not None:
            self._items.move_to_end(image_id)
        return item

    def request(self, image_id: str, path: Path, urgent: bool = False) -> None:
        """Decode ``image_id`` in the background unless cached or already on its way; ``urgent``: the
        image on screen, which starts even while the pool is held (``desktop.tasks``)."""
        if not image_id or image_id in self._items or image_id in self._in_flight:
            return
        self._in_flight.add(image_id)
        model = self._model_getter()

        def done(result: LoadedImage) -> None:
            self._in_flight.discard(image_id)
            self._items[image_id] = result
            self._items.move_to_end(image_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
            self.loaded.emit(image_id)
            if result.changed:
                self.file_changed.emit(image_id, str(path))

        def failed(exc: BaseException) -> None:
            self._in_flight.discard(image_id)
            self._items[image_id] = LoadedImage(image_id, Path(path), error=f"This image could not be shown ({exc}).")
            self.loaded.emit(image_id)

        if not self._tasks.run_in_background(lambda: load_for_viewer(image_id, path, model=model), done, failed,
                                             urgent=urgent):  # shut down (the window is closing)
            self._in_flight.discard(image_id)

    def clear(self) -> None:
        self._items.clear()

    def drop(self, image_id: str) -> None:
        self._items.pop(image_id, None)
