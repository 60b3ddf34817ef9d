"""JPEG, PNG, TIFF and BMP files generated in the test decode to the right grey image: colour and
CMYK to grey, EXIF orientation applied, reduced-scale JPEG decoding, 16-bit windowing, palette and
alpha, multi-page TIFF noted; and ``prepare`` produces the model input from file bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.imaging.preprocess import PAD_VALUE, prepare
from core.imaging.reader import DecodedImage, apply_window, read_image
from tests.core.imaging import factory

PH = factory.phantom()  # 96×80 uint8


def close(a: np.ndarray, b: np.ndarray, tol: float = 4.0) -> bool:
    return a.shape == b.shape and float(np.abs(a.astype(float) - b.astype(float)).mean()) < tol


@pytest.mark.parametrize(
    "kw",
    [
        {"mode": "L"},
        {"mode": "RGB"},
        {"mode": "L", "progressive": True},
        {"mode": "RGB", "progressive": True, "subsampling": 2},
        {"mode": "CMYK"},
        {"mode": "RGB", "keep_rgb": True},
    ],
    ids=["grey", "rgb", "progressive-grey", "progressive-rgb", "cmyk", "adobe-rgb-not-ycbcr"],
)
def test_jpeg_variants_decode_to_grey(kw):
    img = read_image(factory.jpeg(PH, **kw), name="x.jpg")
    assert isinstance(img, DecodedImage)
    assert img.format == "JPEG" and (img.width, img.height) == (80, 96)
    assert img.grey.dtype == np.uint8 and img.grey.shape == (96, 80)
    assert close(img.grey, PH, tol=5.0)
    assert not img.reduced and img.window == (128.0, 256.0) and not img.inverted
    assert img.meta.width == 80 and img.meta.format == "JPEG" and img.meta.dicom is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation_applied(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = factory.jpeg(PH, exif=exif.tobytes())
    img = read_image(data)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))  # Pillow's reference
    assert close(img.grey, expected, tol=5.0)
    assert (img.width, img.height) == (expected.shape[1], expected.shape[0])
    assert ("EXIF orientation applied" in img.notes) == (orientation > 1)


def test_jpeg_reduced_decoding_keeps_long_side_at_least_reduce_to():
    big = np.asarray(Image.fromarray(PH).resize((800, 960), Image.Resampling.BILINEAR))
    data = factory.jpeg(big, mode="RGB")
    full = read_image(data)
    assert full.grey.shape == (960, 800) and not full.reduced
    for target, shape in [(100, (120, 100)), (240, (240, 200)), (300, (480, 400)), (960, (960, 800))]:
        img = read_image(data, reduce_to=target)
        assert img.grey.shape == shape
        assert max(img.grey.shape) >= target
        assert img.reduced == (shape != (960, 800))
        assert (img.width, img.height) == (800, 960)  # always the full size
        small = np.asarray(Image.fromarray(full.grey).resize(shape[::-1], Image.Resampling.BOX))
        assert close(img.grey, small, tol=6.0)


def test_jpeg_8bit_keep_raw_is_float_copy():
    img = read_image(factory.jpeg(PH), keep_raw=True)
    assert img.raw.dtype == np.float32 and np.array_equal(img.raw, img.grey.astype(np.float32))
    assert np.array_equal(apply_window(img.raw, *img.window, img.inverted), img.grey)
    assert read_image(factory.jpeg(PH)).raw is None


def test_png_8bit_is_exact():
    img = read_image(factory.pil_bytes(Image.fromarray(PH), "PNG"), name="a.png")
    assert img.format == "PNG" and np.array_equal(img.grey, PH)


def test_png_16bit_windowed_over_data_range_and_raw_kept():
    arr16 = factory.phantom(dtype=np.uint16, hi=1000) + 3000  # 3000..4000 inside 0..65535
    data = factory.pil_bytes(Image.fromarray(arr16), "PNG")
    img = read_image(data, keep_raw=True)
    assert img.grey.min() == 0 and img.grey.max() == 255
    expected = np.rint((arr16.astype(float) - arr16.min()) / (arr16.max() - arr16.min()) * 255)
    assert np.abs(img.grey.astype(float) - expected).max() <= 1
    assert np.array_equal(img.raw, arr16.astype(np.float32))
    assert np.array_equal(apply_window(img.raw, *img.window), img.grey)
    lo, hi = arr16.min(), arr16.max()
    assert img.window == ((lo + hi) / 2 + 0.5, hi - lo + 1.0)
    assert any("16-bit" in n for n in img.notes)


def test_png_palette_rgba_la():
    base = Image.fromarray(PH)
    pal = base.convert("RGB").quantize(64)
    assert close(read_image(factory.pil_bytes(pal, "PNG")).grey, PH, tol=4.0)
    rgba = base.convert("RGBA")
    img = read_image(factory.pil_bytes(rgba, "PNG"))
    assert np.array_equal(img.grey, PH) and "transparency ignored" in img.notes
    la = base.convert("LA")
    assert np.array_equal(read_image(factory.pil_bytes(la, "PNG")).grey, PH)
    one_bit = base.point(lambda v: 255 if v > 128 else 0).convert("1")
    assert set(np.unique(read_image(factory.pil_bytes(one_bit, "PNG")).grey)) <= {0, 255}


def test_tiff_8bit_16bit_and_multipage():
    img = read_image(factory.pil_bytes(Image.fromarray(PH), "TIFF", compression="tiff_lzw"), name="a.tif")
    assert img.format == "TIFF" and np.array_equal(img.grey, PH) and img.notes == ()
    arr16 = factory.phantom(dtype=np.uint16, hi=60000)
    img16 = read_image(factory.pil_bytes(Image.fromarray(arr16), "TIFF"))
    assert img16.grey.max() == 255 and close(img16.grey, np.rint(arr16 / arr16.max() * 255).astype(np.uint8), 1.0)
    pages = [Image.fromarray(PH), Image.fromarray(255 - PH), Image.fromarray(PH // 2)]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    multi = read_image(buf.getvalue())
    assert np.array_equal(multi.grey, PH)
    assert "first page of 3 (multi-page TIFF)" in multi.notes and multi.meta.notes == multi.notes


def test_tiff_float_image():
    arr = factory.phantom().astype(np.float32) / 10.0
    img = read_image(factory.pil_bytes(Image.fromarray(arr, "F"), "TIFF"))
    assert close(img.grey, np.rint(arr / arr.max() * 255).astype(np.uint8), 1.0)


def test_bmp_grey_and_rgb():
    for mode in ("L", "RGB"):
        img = read_image(factory.pil_bytes(Image.fromarray(PH).convert(mode), "BMP"), name="a.bmp")
        assert img.format == "BMP" and np.array_equal(img.grey, PH)


def test_prepare_letterboxes_decoded_grey():
    big = np.asarray(Image.fromarray(PH).resize((400, 480)))
    canvas, geo, decoded = prepare(factory.jpeg(big), 64, name="a.jpg")
    assert canvas.shape == (64, 64) and canvas.dtype == np.uint8
    assert decoded.reduced and max(decoded.grey.shape) >= 64 and (decoded.width, decoded.height) == (400, 480)
    assert (geo.width, geo.height) == (53, 64) and geo.left == (64 - 53) // 2
    assert (canvas[:, : geo.left] == PAD_VALUE).all()
    inside = canvas[:, geo.left : geo.left + geo.width]
    ref = np.asarray(Image.fromarray(big).resize((53, 64), Image.Resampling.BILINEAR))
    assert close(inside, ref, tol=6.0)


def test_grey_is_contiguous_uint8_without_needless_copies():
    img = read_image(factory.jpeg(PH))
    assert img.grey.flags.c_contiguous and img.grey.dtype == np.uint8


def test_real_fracatlas_jpegs_full_and_reduced(shared_data):
    paths = sorted((shared_data / "fracatlas" / "fullres").glob("*.jpg"))[:3]
    paths += sorted((shared_data / "fracatlas" / "images").glob("*.jpg"))[:3]
    if not paths:
        pytest.skip("no FracAtlas JPEGs in the shared data")
    for path in paths:
        data = path.read_bytes()
        full = read_image(data, name=path.name)
        assert full.format == "JPEG" and full.grey.shape == (full.height, full.width)
        small = read_image(data, name=path.name, reduce_to=384)
        assert max(small.grey.shape) >= min(384, max(full.grey.shape))
        assert (small.width, small.height) == (full.width, full.height)
        ref = np.asarray(Image.fromarray(full.grey).resize(small.grey.shape[::-1], Image.Resampling.BOX))
        assert np.corrcoef(ref.ravel().astype(float), small.grey.ravel().astype(float))[0, 1] > 0.99
