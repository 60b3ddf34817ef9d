"""The training pipeline's tensor for a file equals the app's: both go through
core.imaging.preprocess.prepare + to_tensor (cache → loop.to_float must not change a bit)."""

import numpy as np
from PIL import Image

from core.imaging.preprocess import prepare, to_tensor
from core.training.cache import load_images
from core.training.data import load_folder


def _app_tensor(path, size):
    canvas, _geo, _dec = prepare(path.read_bytes(), size, name=path.name)
    return to_tensor(canvas)


def test_training_tensor_equals_app_tensor(export_dir, tmp_path, torch_mod):
    from core.training.loop import to_float

    big = np.random.default_rng(5).integers(0, 255, (700, 520), dtype=np.uint8)
    Image.fromarray(big, "L").convert("RGB").save(export_dir / "fracture" / "large.jpg", quality=90)
    lst = load_folder(export_dir)
    for size in (64, 256):
        images, ok, _ = load_images(lst, size, tmp_path / "cache", log=lambda *_: None)
        train_t = to_float(images, np.arange(len(lst))).numpy()
        for i, path in enumerate(lst.paths):
            assert ok[i]
            assert np.array_equal(train_t[i : i + 1], _app_tensor(path, size)), path.name


def test_parity_on_a_real_radiograph(shared_data, tmp_path, torch_mod):
    from core.training.data import Listing
    from core.training.loop import to_float

    paths = sorted((shared_data / "fracatlas" / "images").glob("IMG000000*.jpg"))[:3]
    lst = Listing(paths, np.zeros(len(paths), int), np.arange(len(paths)), [p.name for p in paths], ["t"] * len(paths))
    images, ok, _ = load_images(lst, 256, None, log=lambda *_: None)
    assert ok.all()
    t = to_float(images, np.arange(len(paths))).numpy()
    for i, p in enumerate(paths):
        assert np.array_equal(t[i : i + 1], _app_tensor(p, 256))
