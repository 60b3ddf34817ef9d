"""JPEG 2000 DICOM decoded at a reduced wavelet level for the model input: the same model input as a
full decode + letterbox within ``J2K_TOLERANCE``; values shifted back to the stored precision; the
viewer's decode (no ``reduce_to``) stays full size; odd codestreams fall back to the full decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import JPEG2000Lossless

from core.imaging import codestream
from core.imaging.preprocess import letterbox, prepare
from core.imaging.reader import read_image
from tests.core.imaging import factory

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "dicom" / "966_fixed.dcm"


def _radiograph(h: int = 1200, w: int = 1000) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = 600 + 900 * (y / h) + 1800 * ((x > w * 0.4) & (x < w * 0.55)) + 300 * np.sin(x / 23.0) * np.cos(y / 31.0)
    rng = np.random.default_rng(3)
    return np.clip(img + rng.normal(0, 40, (h, w)), 0, 4095).astype(np.uint16)


def _compare(data: bytes, size: int = 256):
    reduced_canvas, _geo, reduced = prepare(data, size, name="x.dcm")
    full = read_image(data, name="x.dcm")
    full_canvas, _ = letterbox(full.grey, size)
    diff = np.abs(reduced_canvas.astype(int) - full_canvas.astype(int))
    return reduced, full, diff


def _within(diff: np.ndarray) -> None:
    tol = codestream.J2K_TOLERANCE
    assert diff.mean() <= tol["mean_abs"] and np.percentile(diff, 99) <= tol["p99_abs"], (
        diff.mean(), np.percentile(diff, 99))


def test_generated_j2k_model_input_matches_full_decode():
    data = factory.dicom(_radiograph(), bits_stored=12, compress=JPEG2000Lossless, WindowCenter=2000,
                         WindowWidth=3000)
    reduced, full, diff = _compare(data)
    assert reduced.reduced and not full.reduced
    assert (reduced.width, reduced.height) == (full.width, full.height) == (1000, 1200)
    assert max(reduced.grey.shape) < 1200 and max(reduced.grey.shape) >= 512
    assert full.grey.shape == (1200, 1000)  # the viewer's decode keeps full resolution
    _within(diff)


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/data/dicom/966_fixed.dcm not present")
def test_real_radiograph_model_input_matches_full_decode():
    reduced, full, diff = _compare(SHARED.read_bytes())
    assert reduced.reduced and reduced.window == full.window
    _within(diff)


def test_values_shifted_back_to_the_stored_precision():
    """Pillow scales a 12-bit codestream to 16 bits; the reduced decode must give 12-bit values, so
    the modality LUT and the window apply as to the full decode."""
    pix = _radiograph(800, 800)
    data = factory.dicom(pix, bits_stored=12, compress=JPEG2000Lossless)
    from pydicom import dcmread
    import io

    ds = dcmread(io.BytesIO(data))
    arr = codestream.j2k_reduced(ds, 1, 128, 16)
    assert arr is not None and arr.dtype == np.uint16 and arr.max() <= 4095
    assert abs(float(arr.mean()) - float(pix.mean())) < 20


def test_header_and_level_choice():
    data = factory.dicom(_radiograph(600, 520), bits_stored=12, compress=JPEG2000Lossless)
    from pydicom import dcmread
    from pydicom.encaps import get_frame
    import io

    frame = get_frame(dcmread(io.BytesIO(data)).PixelData, 0, number_of_frames=1)
    w, h, precision, signed, levels = codestream.j2k_header(frame)
    assert (w, h, precision, signed) == (520, 600, 12, False) and levels >= 1
    assert codestream.j2k_reduce_level(2128, 2000, 5, 512) == 2
    assert codestream.j2k_reduce_level(2128, 2000, 1, 512) == 1  # never more than the codestream has
    assert codestream.j2k_reduce_level(400, 300, 5, 512) == 0
    assert codestream.j2k_header(b"\xff\xd8\xff" + b"\0" * 100) is None


def test_small_or_odd_j2k_decodes_in_full():
    small = factory.dicom(factory.phantom(dtype=np.uint16, hi=4000), compress=JPEG2000Lossless)
    assert not prepare(small, 256, name="x.dcm")[2].reduced
