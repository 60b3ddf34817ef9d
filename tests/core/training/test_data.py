"""Dataset listings: FracAtlas layout, export layout (doubt ignored), mixing, and the decode cache."""

import numpy as np
import pytest

from core.training.cache import load_images, prepare_file
from core.training.data import DataError, combine, load_folder


def test_export_layout(export_dir):
    lst = load_folder(export_dir)
    assert len(lst) == 24 and lst.labels.sum() == 8
    assert not any("doubt" in str(p) for p in lst.paths)
    assert len(np.unique(lst.groups)) == 24


def test_fracatlas_layout(fracatlas_dir):
    lst = load_folder(fracatlas_dir)
    assert len(lst) == 40 and lst.labels.sum() == 10
    assert lst.groups.tolist()[:11] == [0] * 10 + [1]
    assert set(lst.meta) >= {"hand", "hardware", "frontal"}


def test_combine_keeps_groups_apart(export_dir, fracatlas_dir):
    both = combine([load_folder(fracatlas_dir), load_folder(export_dir)])
    assert len(both) == 64
    assert len(np.unique(both.groups)) == 4 + 24
    assert np.isnan(both.meta["hand"][-1])


def test_not_a_dataset(tmp_path):
    with pytest.raises(DataError):
        load_folder(tmp_path)


def test_cache_roundtrip_and_bad_files(export_dir, tmp_path):
    (export_dir / "fracture" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    lst = load_folder(export_dir)
    images, ok, errors = load_images(lst, 64, tmp_path / "cache", log=lambda *_: None)
    assert images.shape == (25, 64, 64) and images.dtype == np.uint8
    assert ok.sum() == 24 and len(errors) == 1 and "broken.png" in errors[0][0]
    again, ok2, _ = load_images(lst, 64, tmp_path / "cache", log=lambda *_: None)
    assert np.array_equal(again, images) and np.array_equal(ok, ok2)
    i = int(np.flatnonzero(ok)[0])
    assert np.array_equal(images[i], prepare_file(lst.paths[i], 64))
