"""``apply_window`` (the viewer's window/level) matches pydicom's own windowing for every VOI LUT
function, and ``read_image`` is safe to call from several threads at once (the scan does)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset

from core.imaging.reader import apply_window, read_image
from core.imaging.window import range_window
from tests.core.imaging import factory


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("center,width", [(2048, 4096), (300, 40), (1000.5, 1.0), (-500, 2000)])
def test_apply_window_matches_pydicom(function, center, width):
    from pydicom.pixels import apply_windowing

    if function == "LINEAR" and width < 1:
        pytest.skip("LINEAR needs width >= 1")
    ds = Dataset()
    ds.BitsStored, ds.PixelRepresentation, ds.PhotometricInterpretation = 16, 1, "MONOCHROME2"
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = center, width, function
    values = np.linspace(-3000, 5000, 4001)
    with np.errstate(over="ignore"):  # pydicom's SIGMOID overflows exp() for narrow windows
        ref = apply_windowing(values.copy(), ds)  # output over -32768..32767
    ref = (ref + 32768) / 65535 * 255
    ours = apply_window(values, center, width, function=function).astype(float)
    assert np.abs(ours - ref).max() <= 1.0
    inv = apply_window(values, center, width, True, function=function).astype(float)
    assert np.array_equal(inv, 255 - ours)


def test_range_window_maps_min_and_max_to_black_and_white():
    values = np.array([100.0, 550.0, 1000.0])
    out = apply_window(values, *range_window(100, 1000))
    assert out.tolist() == [0, 128, 255]
    assert apply_window(np.array([5.0, 5.0]), *range_window(5, 5)).dtype == np.uint8  # flat image: no crash


def test_read_image_is_thread_safe():
    files = [factory.jpeg(), factory.jpeg(mode="RGB", progressive=True), factory.dicom(),
             factory.pil_bytes(Image.fromarray(factory.phantom()), "PNG")] * 6
    sequential = [read_image(f).grey for f in files]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda f: read_image(f).grey, files))
    assert all(np.array_equal(a, b) for a, b in zip(sequential, parallel))
