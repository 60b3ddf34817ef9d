"""The ONE preprocessing function from a decoded greyscale image to the model input, shared by the
scan pipeline and the training code (``core.training`` imports it; never re-implement it there).

Model input contract (also written in every model card under ``input``):
  * greyscale, uint8 display image (already windowed for DICOM) of any size;
  * letterboxed: scaled so the long side equals ``size`` (aspect ratio kept, bilinear with Pillow's
    reducing gap for large downscales), centred on a ``size``×``size`` canvas padded with 0 (black);
  * as a tensor: float32, shape (N, 1, size, size), values ``pixel / 255`` in [0, 1]. Any further
    normalisation lives inside the ONNX graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from core.imaging.decoded import DecodedImage

PREPROCESSING_ID = "letterbox-grey-v1"  # the card's input.preprocessing must equal this
PAD_VALUE = 0


@dataclass(frozen=True)
class Letterbox:
    """Where the image sits inside the square model input (to map a heatmap back onto the image)."""

    size: int  # side of the square canvas
    scale: float  # canvas pixels per source pixel
    left: int
    top: int
    width: int  # scaled image width on the canvas
    height: int
    source_width: int
    source_height: int


def letterbox_geometry(src_w: int, src_h: int, size: int) -> Letterbox:
    if src_w <= 0 or src_h <= 0:
        raise ValueError("empty image")
    scale = size / max(src_w, src_h)
    w = max(1, min(size, round(src_w * scale)))
    h = max(1, min(size, round(src_h * scale)))
    return Letterbox(size, scale, (size - w) // 2, (size - h) // 2, w, h, src_w, src_h)


def letterbox(grey: np.ndarray | Image.Image, size: int) -> tuple[np.ndarray, Letterbox]:
    """Greyscale uint8 image (array HxW or Pillow 'L') → (uint8 size×size canvas, geometry)."""
    img = grey if isinstance(grey, Image.Image) else Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8), "L")
    if img.mode != "L":
        img = img.convert("L")
    geo = letterbox_geometry(img.width, img.height, size)
    if (img.width, img.height) != (geo.width, geo.height):
        img = img.resize((geo.width, geo.height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    canvas = np.full((size, size), PAD_VALUE, dtype=np.uint8)
    canvas[geo.top : geo.top + geo.height, geo.left : geo.left + geo.width] = np.asarray(img, dtype=np.uint8)
    return canvas, geo


def to_tensor(batch: np.ndarray) -> np.ndarray:
    """uint8 (N, S, S) or (S, S) letterboxed images → float32 (N, 1, S, S) in [0, 1]."""
    a = np.asarray(batch)
    if a.ndim == 2:
        a = a[None]
    return (a.astype(np.float32) * np.float32(1.0 / 255.0))[:, None, :, :]


def prepare(data: bytes, size: int, *, name: str = "") -> tuple[np.ndarray, Letterbox, DecodedImage]:
    """File bytes → (uint8 size×size letterboxed model input, its geometry, the DecodedImage).

    The one path from a file to the model input, used by the scan AND by training: decodes with
    ``read_image(data, name=name, reduce_to=size)`` (reduced-scale JPEG decoding when the image is
    much larger than ``size``) then ``letterbox``. Raises only ``FileError``. The geometry's
    ``source_width``/``source_height`` are those of ``decoded.grey`` (possibly reduced); the file's
    full size is ``decoded.width``/``decoded.height``.
    """
    from core.imaging.reader import read_image

    decoded = read_image(data, name=name, reduce_to=size)
    canvas, geo = letterbox(decoded.grey, size)
    return canvas, geo, decoded
