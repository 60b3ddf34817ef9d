"""Tiny generated datasets (seconds to train on): an export-layout folder and a FracAtlas-layout folder.
Fractured images carry a bright diagonal line, so even one epoch learns something."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.training.data import META_COLUMNS


def _image(rng, fractured: bool) -> Image.Image:
    h, w = int(rng.integers(70, 110)), int(rng.integers(60, 100))
    a = (rng.random((h, w)) * 90 + 40).astype(np.uint8)
    if fractured:
        for i in range(min(h, w)):
            a[i, min(w - 1, i)] = 255
    return Image.fromarray(a, "L")


def make_export(root: Path, n: int = 24, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for label in ("fracture", "no_fracture", "doubt"):
        (root / label).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        label = "fracture" if i % 3 == 0 else "no_fracture"
        _image(rng, label == "fracture").save(root / label / f"img{i:03d}.png")
    _image(rng, True).save(root / "doubt" / "ignored.png")
    return root


def make_fracatlas(root: Path, n: int = 40, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        fractured = int(i % 4 == 0)
        name = f"IMG{i:07d}.jpg"
        _image(rng, bool(fractured)).convert("RGB").save(root / "images" / name, quality=95)
        part = ("hand", "leg", "hip", "shoulder")[i % 4 if i % 8 < 4 else (i + 1) % 4]
        row = {"image_id": name, **{c: 0 for c in META_COLUMNS}, "fractured": fractured, "fracture_count": fractured}
        row[part] = 1
        row["hardware"] = int(fractured and i % 8 == 0)
        row["frontal"] = 1
        rows.append(row)
    with open(root / "dataset.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["image_id", *META_COLUMNS[:7], "fractured", "fracture_count", *META_COLUMNS[7:]])
        w.writeheader()
        w.writerows(rows)
    return root


@pytest.fixture
def export_dir(tmp_path) -> Path:
    return make_export(tmp_path / "export")


@pytest.fixture
def fracatlas_dir(tmp_path) -> Path:
    return make_fracatlas(tmp_path / "fracatlas")


@pytest.fixture(scope="module")
def torch_mod():
    torch = pytest.importorskip("torch", reason="PyTorch not installed (training extra): pip install torch==2.13.0")
    torch.set_num_threads(2)
    return torch
