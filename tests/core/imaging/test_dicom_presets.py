"""What the viewer's presets and display pipeline take from a DICOM file: every window it provides
(multi-valued Window Center/Width, named by Window Center & Width Explanation) before the
data-driven ones, each applied with the file's VOI LUT function (SIGMOID stays SIGMOID), and the
Presentation LUT Sequence applied through pydicom's ``apply_presentation_lut`` — on generated
datasets and on real files (pydicom's and pydicom-data's multi-window MR/CT, the shared radiographs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.imaging.dicom import presentation_curve
from core.imaging.presets import DATA_PRESETS, compute_presets
from core.imaging.reader import apply_window, read_image
from tests.core.imaging import factory

PH16 = factory.phantom(dtype=np.uint16, hi=4000)


def presets_of(data: bytes):
    img = read_image(data, keep_raw=True)
    return img, compute_presets(img.raw, img.window, inverted=img.inverted, file_windows=img.file_windows,
                                function=img.window_function)


def test_every_window_of_the_file_is_a_named_preset_before_the_data_driven_ones():
    data = factory.dicom(PH16, bits_stored=12, WindowCenter=[2000, 3500, 1000], WindowWidth=[1000, 600, 2000],
                         WindowCenterWidthExplanation=["STANDARD", "BONE", ""])
    img, presets = presets_of(data)
    assert img.file_windows == (("STANDARD", (2000.0, 1000.0)), ("BONE", (3500.0, 600.0)), ("Window 3", (1000.0, 2000.0)))
    assert [p.name for p in presets] == ["STANDARD", "BONE", "Window 3", *DATA_PRESETS]
    assert [p.source for p in presets] == ["file"] * 3 + ["data"] * 3
    assert presets[0].window is None  # the first window is the image as read
    assert presets[1].label == "BONE (file)"
    bone = apply_window(img.raw, *presets[1].window, function=presets[1].function)
    assert np.array_equal(bone, apply_window(PH16.astype(np.float32), 3500, 600))


def test_a_file_without_windows_keeps_the_four_presets():
    img, presets = presets_of(factory.dicom(PH16, bits_stored=12))
    assert img.file_windows == ()
    assert [p.name for p in presets] == ["As acquired", *DATA_PRESETS]


def test_unusable_window_pairs_are_left_out_and_explanations_tidied():
    data = factory.dicom(PH16, bits_stored=12, WindowCenter=[2000, 100, 300], WindowWidth=[1000, 0, 50],
                         WindowCenterWidthExplanation=["  SOFT   TISSUE ", "ZERO", "X" * 60])
    names = [n for n, _ in read_image(data).file_windows]
    assert names == ["SOFT TISSUE", "X" * 40]  # width 0 is not a window


@pytest.mark.parametrize("function", ["SIGMOID", "LINEAR_EXACT"])
def test_the_files_voi_lut_function_goes_with_its_windows_only(function):
    data = factory.dicom(PH16, bits_stored=12, WindowCenter=[2000, 3000], WindowWidth=[1000, 500],
                         VOILUTFunction=function)
    img, presets = presets_of(data)
    assert [p.function for p in presets] == [function, function, "LINEAR", "LINEAR", "LINEAR"]
    second = apply_window(img.raw, *presets[1].window, function=presets[1].function)
    expected = 255 / (1 + np.exp(-4 * (PH16.astype(float) - 3000) / 500)) if function == "SIGMOID" else \
        np.clip((PH16.astype(float) - 3000) * 255 / 500 + 127.5, 0, 255)
    assert np.abs(second - expected).max() <= 1
    full = apply_window(img.raw, *presets[2].window, function=presets[2].function)  # "Full range" is LINEAR
    assert full.min() == 0 and full.max() == 255


def _plut_item(lut: np.ndarray, bits: int):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.LUTDescriptor = [len(lut), 0, bits]
    item.add_new(0x00283006, "US", [int(v) for v in lut])  # LUTData
    return Sequence([item])


def test_presentation_lut_sequence_is_applied_through_pydicom():
    from pydicom import dcmread
    from pydicom.pixels import apply_presentation_lut
    import io

    lut = np.rint(np.linspace(0, 1, 1024) ** 0.5 * 4095).astype(np.uint16)  # a 10-bit-in, 12-bit-out gamma
    data = factory.dicom(PH16, bits_stored=12, WindowCenter=2000, WindowWidth=4000,
                         PresentationLUTSequence=_plut_item(lut, 12))
    img = read_image(data, keep_raw=True)
    windowed = apply_window(PH16.astype(np.float32), 2000, 4000)
    ds = dcmread(io.BytesIO(data))
    curve = np.rint(apply_presentation_lut(np.arange(256, dtype=np.uint16), ds) * 255.0 / 4095).astype(np.uint8)
    assert np.array_equal(presentation_curve(ds), curve)
    assert np.array_equal(img.grey, curve[windowed])  # after the window, before nothing else
    assert np.array_equal(img.presentation_lut, curve)
    mid = windowed == 128
    assert mid.any() and abs(int(img.grey[mid][0]) - round(np.sqrt(128 / 255) * 255)) <= 2  # brighter mid-tones
    assert not img.inverted and "Presentation LUT" in " ".join(img.notes)
    rewindowed = apply_window(img.raw, 2000, 4000, presentation=img.presentation_lut)  # what the viewer does
    assert np.array_equal(rewindowed, img.grey)


def test_a_descending_presentation_lut_inverts_and_replaces_monochrome1_inversion():
    lut = np.arange(255, -1, -1, dtype=np.uint16)  # 8-bit in/out, inverse
    data = factory.dicom(PH16, bits_stored=12, photometric="MONOCHROME1", WindowCenter=2000, WindowWidth=4000,
                         PresentationLUTSequence=_plut_item(lut, 8))
    img = read_image(data)
    assert not img.inverted  # inverted once, by the LUT (not again for MONOCHROME1)
    assert np.array_equal(img.grey, 255 - apply_window(PH16.astype(np.float32), 2000, 4000))


def test_a_broken_presentation_lut_is_ignored_not_fatal():
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.LUTDescriptor = [256, 0, 40]  # 40 bits per entry: not a LUT
    item.add_new(0x00283006, "US", list(range(256)))
    img = read_image(factory.dicom(PH16, bits_stored=12, WindowCenter=2000, WindowWidth=4000,
                                   PresentationLUTSequence=Sequence([item])))
    assert img.presentation_lut is None
    assert np.array_equal(img.grey, apply_window(PH16.astype(np.float32), 2000, 4000))


def _pydicom_file(name: str) -> Path | None:
    import pydicom

    for base in (Path(pydicom.__file__).parent / "data" / "test_files",):
        if (base / name).is_file():
            return base / name
    try:
        import data_store  # pydicom-data

        p = Path(data_store.__file__).parent / "data" / name
        return p if p.is_file() else None
    except ImportError:
        return None


@pytest.mark.parametrize("name,expected", [
    ("examples_overlay.dcm", [("WINDOW1", (450.0, 790.0)), ("WINDOW2", (200.0, 443.0))]),  # pydicom's own MR
    ("MR-SIEMENS-DICOM-WithOverlays.dcm", [("WINDOW1", (450.0, 790.0)), ("WINDOW2", (200.0, 443.0))]),
    ("bad_sequence.dcm", [("WINDOW1", (40.0, 350.0)), ("WINDOW2", (450.0, 1500.0))]),  # CT in pydicom-data
])
def test_real_multi_window_files(name, expected):
    path = _pydicom_file(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom's test files / the pydicom-data package)")
    img, presets = presets_of(path.read_bytes())
    assert list(img.file_windows) == expected
    assert [p.name for p in presets][:2] == ["WINDOW1", "WINDOW2"] and presets[1].window == expected[1][1]
    second = apply_window(img.raw, *presets[1].window, function=presets[1].function)
    assert second.shape == img.grey.shape and second.std() > 0  # a different, usable rendering
    assert not np.array_equal(second, img.grey)


SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "dicom"


def test_shared_radiographs_give_their_window_first():
    files = sorted(SHARED.glob("*.dcm")) if SHARED.is_dir() else []
    if not files:
        pytest.skip(f"no shared DICOM radiographs at {SHARED}")
    for path in files:
        img, presets = presets_of(path.read_bytes())
        assert presets[0].window is None and [p.name for p in presets][-3:] == list(DATA_PRESETS)
        assert len(presets) == 3 + max(1, len(img.file_windows)), path.name
        if img.file_windows:
            assert presets[0].name == img.file_windows[0][0] and presets[0].source == "file"
