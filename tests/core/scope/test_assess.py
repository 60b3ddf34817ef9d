"""``assess``: the verdict from a decoded file (readers' colour/missing/tag evidence included)."""

import io

import numpy as np
from PIL import Image

from core.imaging.reader import read_image
from core.scope import IN_SCOPE, OUT_OF_SCOPE, assess
from tests.core.imaging.factory import dicom, jpeg, phantom, pil_bytes


def big_phantom(dtype=np.uint8, hi=255):
    return phantom(400, 320, dtype=dtype, hi=hi)


def verdict(data, name="x"):
    return assess(read_image(data, name=name, reduce_to=256))


def test_grey_radiograph_jpeg_in_scope_also_stored_as_rgb():
    assert verdict(jpeg(big_phantom())).scope == IN_SCOPE
    d = read_image(jpeg(big_phantom(), mode="RGB"), reduce_to=256)
    assert d.colour_share == 0.0 and assess(d).scope == IN_SCOPE


def test_rgb_jpeg_decodes_to_the_same_grey_as_before():
    data = jpeg(big_phantom(), mode="RGB")
    im = Image.open(io.BytesIO(data))
    im.draft("L", None)
    assert np.array_equal(read_image(data).grey, np.asarray(im))


def colour_photo(h=300, w=400):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 90)], axis=-1).astype(np.uint8)


def test_colour_photos_are_out_in_every_format():
    img = Image.fromarray(colour_photo(), "RGB")
    for fmt in ("JPEG", "PNG", "BMP", "TIFF"):
        v = verdict(pil_bytes(img, fmt))
        assert v.scope == OUT_OF_SCOPE and v.reason.startswith("colour photograph"), fmt
    v = verdict(pil_bytes(img.convert("P"), "PNG"))
    assert v.scope == OUT_OF_SCOPE


def test_colour_dicom_is_out_grey_rgb_dicom_is_not():
    v = verdict(dicom(colour_photo(), photometric="RGB", Modality="OT", BodyPartExamined=""))
    assert v.reason.startswith("colour photograph")
    grey3 = np.repeat(big_phantom()[..., None], 3, axis=-1)
    assert verdict(dicom(grey3, photometric="RGB", Modality="OT")).scope == IN_SCOPE


def test_dicom_tags():
    ct = verdict(dicom(big_phantom(np.uint16, 4000), Modality="CT"))
    assert (ct.scope, ct.reason) == (OUT_OF_SCOPE, "CT image")
    chest = verdict(dicom(big_phantom(np.uint16, 4000), Modality="CR", BodyPartExamined="CHEST"))
    assert chest.reason == "chest radiograph"
    desc = verdict(dicom(big_phantom(np.uint16, 4000), Modality="CR", BodyPartExamined="",
                         SeriesDescription="Thorax p.a."))
    assert desc.reason == "chest radiograph"
    hand = verdict(dicom(big_phantom(np.uint16, 4000)))
    assert hand.scope == IN_SCOPE and hand.settled
    frames = np.stack([big_phantom(np.uint16, 4000)] * 3)
    mf = verdict(dicom(frames))
    assert mf.scope == OUT_OF_SCOPE and "3 frames" in mf.reason


def test_quality_from_files():
    small = verdict(jpeg(phantom(60, 50)))
    assert "too small" in small.reason
    blank = verdict(jpeg(np.full((300, 300), 90, np.uint8)))
    assert "blank" in blank.reason
    # quality also applies to a DICOM whose tags say hand
    assert "blank" in verdict(dicom(np.full((300, 300), 1000, np.uint16))).reason


def test_truncated_jpeg_large_missing_part_is_out_small_tail_is_in():
    rng = np.random.default_rng(0)
    arr = (big_phantom().astype(int) + rng.integers(-20, 20, (400, 320))).clip(0, 255).astype(np.uint8)
    data = jpeg(arr, quality=90)
    d = read_image(data[: int(len(data) * 0.55)])
    assert d.missing_share is not None and d.missing_share > 0.3
    v = assess(d)
    assert v.scope == OUT_OF_SCOPE and v.reason == f"image incomplete: {d.missing_share:.0%} of rows missing"
    d = read_image(data[: int(len(data) * 0.97)])
    assert d.missing_share < 0.2 and assess(d).scope == IN_SCOPE
