"""The scan gives every image a scope verdict: tags/colour/quality in the decoders, the content check
from the model's embedding output when the card carries ``scope.content``; the CLI writes the
``scope``/``scope_reason`` columns, counts out-of-scope images by reason and never flags them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.imaging.preprocess import prepare
from core.model import ModelError, load_model
from core.scan import scan
from core.scope import fit_content_gate
from tests.core.imaging.factory import dicom, phantom
from tests.model_factory import grid_embedding, write_model

SIZE = 64


def radiograph(rng, h=160, w=128) -> np.ndarray:
    """A varied 'radiograph': dark background, a bright band somewhere in the middle, noise."""
    img = phantom(h, w).astype(np.float32)
    shift = int(rng.integers(-10, 10))
    img = np.roll(img, shift, axis=1) * rng.uniform(0.8, 1.1) + rng.normal(0, 6, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def jpg(arr: np.ndarray, mode="L") -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(arr)
    (im.convert(mode) if mode != im.mode else im).save(buf, "JPEG", quality=92)
    return buf.getvalue()


@pytest.fixture(scope="module")
def gated_model(tmp_path_factory):
    rng = np.random.default_rng(0)
    emb = np.stack([grid_embedding(prepare(jpg(radiograph(rng)), SIZE)[0]) for _ in range(300)])
    folds = np.arange(len(emb)) % 5
    section = fit_content_gate([emb[folds != k] for k in range(5)], [emb[folds == k] for k in range(5)], emb)
    path = write_model(tmp_path_factory.mktemp("gated"), with_embedding=True, scope={"content": section})
    return path


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "mixed"
    root.mkdir()
    for i in range(6):
        (root / f"xr{i}.jpg").write_bytes(jpg(radiograph(rng)))
    inverted = 255 - radiograph(rng)  # unlike the training images: white background
    (root / "inverted.jpg").write_bytes(jpg(inverted))
    y, x = np.mgrid[0:200, 0:240]
    photo = np.stack([x, y, np.full_like(x, 60)], -1).astype(np.uint8)
    (root / "photo.jpg").write_bytes(jpg(photo, "RGB"))
    (root / "ct.dcm").write_bytes(dicom(phantom(160, 128, dtype=np.uint16, hi=3000), Modality="CT"))
    (root / "chest.dcm").write_bytes(dicom(phantom(160, 128, dtype=np.uint16, hi=3000), Modality="CR",
                                          BodyPartExamined="CHEST"))
    (root / "hand.dcm").write_bytes(dicom(phantom(160, 128, dtype=np.uint16, hi=3000)))
    (root / "copy.jpg").write_bytes((root / "photo.jpg").read_bytes())
    return root


def test_scan_assigns_verdicts_with_the_content_check(folder, gated_model):
    model = load_model(gated_model, threads=1)
    s = scan(folder, model, workers=2, batch_size=4)
    by = {i.path.name: i for i in s.items}
    for i in range(6):
        assert by[f"xr{i}.jpg"].scope == "in_scope", by[f"xr{i}.jpg"].scope_distance
        assert by[f"xr{i}.jpg"].scope_distance is not None
    assert (by["inverted.jpg"].scope, by["inverted.jpg"].scope_reason) == (
        "out_of_scope", "unlike the training images (image content)")
    assert by["photo.jpg"].scope_reason.startswith("colour photograph")
    assert by["copy.jpg"].scope_reason == by["photo.jpg"].scope_reason  # a duplicate carries its origin's verdict
    assert by["ct.dcm"].scope_reason == "CT image"
    assert by["chest.dcm"].scope_reason == "chest radiograph"
    assert by["hand.dcm"].scope == "in_scope"  # settled by its tags, whatever the content says


def test_model_without_content_section_applies_tags_colour_quality_only(folder, test_model):
    s = scan(folder, load_model(test_model, threads=1), workers=1)
    by = {i.path.name: i for i in s.items}
    assert by["inverted.jpg"].scope == "in_scope" and by["inverted.jpg"].scope_distance is None
    assert by["ct.dcm"].scope_reason == "CT image" and by["photo.jpg"].scope == "out_of_scope"


def test_card_with_scope_but_no_embedding_output_is_refused(tmp_path, gated_model):
    import json

    card = json.loads(gated_model.with_suffix(".json").read_text())
    bad = write_model(tmp_path, name="noemb", scope=card["scope"])
    with pytest.raises(ModelError, match="embedding"):
        load_model(bad)
    card["scope"]["content"]["variances"] = [-1.0] * len(card["scope"]["content"]["variances"])
    broken = write_model(tmp_path, name="badscope", with_embedding=True, scope=card["scope"])
    with pytest.raises(ModelError, match="scope.content"):
        load_model(broken)


def test_cli_csv_columns_summary_counts_and_no_flags_out_of_scope(folder, gated_model, tmp_path, capsys):
    out = tmp_path / "scan.csv"
    rc = main(["scan", str(folder), "--model", str(gated_model), "--no-store", "--csv", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[-2:] == ["scope", "scope_reason"]
    scopes = [r["scope"] for r in rows]
    first_out = scopes.index("out_of_scope")
    assert set(scopes[:first_out]) == {"in_scope"} and set(scopes[first_out:]) == {"out_of_scope"}
    by = {Path(r["path"]).name: r for r in rows}
    assert by["ct.dcm"]["scope_reason"] == "CT image"
    assert "in scope:   7" in text and "out of scope: 4" in text  # the duplicate is counted once, as an image
    assert "CT image" in text and "colour photograph or colour image" in text and "scope gate:" in text
    assert "unlike the training images" in text
