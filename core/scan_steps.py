"""What the scan does to ONE file, outside the pipeline's threads and queues (``core.scan``): decode to
the model's input (``prepare``), the tags/colour/quality verdict (``assess``), the scope gate a model's
card describes (``gate_for``), the ``on_decoded`` hook guarded so its failure never loses an image, and
``score_file`` — read, hash, decode and score one file now (the viewer's re-score of a file whose bytes
changed under its row). Tests replace ``prepare`` here to count or break decoding.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from core.discovery import read_found
from core.imaging.errors import FileError
from core.results import ERROR, SCORED, ScanItem

log = logging.getLogger(__name__)


def gate_for(model):
    from core.scope import Gate

    card = getattr(model, "card", None)
    return Gate.for_card(card) if card is not None else Gate(None)


def assess(decoded):
    """The tags/colour/quality verdict; a bug in a check must not lose the image (no verdict then)."""
    from core.scope import assess as check

    try:
        return check(decoded)
    except Exception:  # noqa: BLE001 - one image's check, keep scanning
        log.exception("scope check failed on one image")
        return None


def call_on_decoded(fn, image_id: str, decoded) -> None:
    """The ``on_decoded`` hook; its failure (a full disk for thumbnails...) must not lose the image."""
    try:
        fn(image_id, decoded)
    except Exception:  # noqa: BLE001
        log.exception("on_decoded hook failed on one image")


def prepare(data: bytes, size: int, name: str):
    from core.imaging.preprocess import prepare as decode_to_input

    return decode_to_input(data, size, name=name)


def score_file(path: Path, model) -> ScanItem:
    """Read, hash, decode and score ONE file now (no reuse of a stored score): what the viewer asks
    for when a file's bytes no longer match the image id its row was scanned as. Per-file problems
    come back as an ERROR item, like in ``scan``."""
    from core.imaging.preprocess import to_tensor

    path = Path(os.path.abspath(path))
    image_id = None
    try:
        st = os.stat(path)
        size, mtime_ns = st.st_size, st.st_mtime_ns
    except OSError as exc:
        return ScanItem(path, 0, 0, ERROR, error=f"cannot be read: {exc.strerror or exc}",
                        error_kind=FileError.UNREADABLE)
    try:
        data = read_found(path)
        image_id = hashlib.sha256(data).hexdigest()
        canvas, _geo, decoded = prepare(data, model.input_size, path.name)
    except FileError as exc:
        return ScanItem(path, size, mtime_ns, ERROR, image_id=image_id, error=exc.reason, error_kind=exc.kind)
    pred = model.predict(to_tensor(canvas[None]), with_cam=False)
    return ScanItem(path, size, mtime_ns, SCORED, image_id=image_id, probability=float(pred.probabilities[0]),
                    model_version=model.version, meta=decoded.meta)
