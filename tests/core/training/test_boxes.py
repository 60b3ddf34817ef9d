"""Fracture boxes → letterboxed masks → cell targets, warped with the image's augmentation, and the
localisation measures (numpy; the warp test needs torch)."""

import json

import numpy as np
import pytest

from core.training.boxes import box_mask, canvas_boxes, cell_targets, load_coco_boxes, localisation, masks_for
from core.training.data import load_folder


def test_coco_boxes_are_fractions_and_land_where_the_letterbox_puts_them(tmp_path):
    coco = {"images": [{"id": 7, "width": 200, "height": 100, "file_name": "a.jpg"},
                       {"id": 8, "width": 50, "height": 50, "file_name": "b.jpg"}],
            "annotations": [{"id": 1, "image_id": 7, "bbox": [100, 50, 20, 10]},
                            {"id": 2, "image_id": 7, "bbox": [0, 0, 0, 5]}]}  # empty box ignored
    (tmp_path / "c.json").write_text(json.dumps(coco))
    boxes = load_coco_boxes(tmp_path / "c.json")
    assert boxes["a.jpg"]["boxes"] == [(0.5, 0.5, 0.6, 0.6)] and boxes["b.jpg"]["boxes"] == []
    # 200x100 letterboxed to 64: scale 0.32, 64x32 centred (top 16)
    (x0, y0, x1, y1), = canvas_boxes(boxes["a.jpg"]["boxes"], 200, 100, 64)
    assert (x0, y0, x1, y1) == pytest.approx((32, 32, 38.4, 35.2))
    m = box_mask(boxes["a.jpg"]["boxes"], 200, 100, 64, div=4)
    assert m.shape == (16, 16) and set(zip(*np.nonzero(m))) == {(8, 8), (8, 9)}
    assert cell_targets(m[None], 4)[0].sum() == 1 and cell_targets(m[None], 4)[0, 2, 2]


def test_fracatlas_listing_carries_boxes_and_supervision(fracatlas_dir):
    coco = {"images": [{"id": 1, "width": 80, "height": 80, "file_name": "IMG0000000.jpg"}],
            "annotations": [{"id": 1, "image_id": 1, "bbox": [10, 10, 20, 20]}]}
    (fracatlas_dir / "fracture_boxes_coco.json").write_text(json.dumps(coco))
    lst = load_folder(fracatlas_dir)
    masks, sup = masks_for(lst, 64)
    assert lst.labels[0] == 1 and sup[0] and masks[0].sum() > 0
    fractured_without_box = np.flatnonzero((lst.labels == 1) & (np.arange(len(lst)) > 0))
    assert len(fractured_without_box) and not sup[fractured_without_box].any()  # no cell loss without boxes
    assert sup[lst.labels == 0].all() and masks[lst.labels == 0].sum() == 0
    assert lst.subset(np.arange(len(lst)) < 3).boxes[0]["boxes"]


def test_localisation_counts_peaks_in_boxes():
    masks = np.zeros((3, 16, 16), np.uint8)
    masks[0, 0:4, 0:4] = 1
    masks[1, 12:16, 12:16] = 1
    cams = np.zeros((3, 4, 4), np.float32)
    cams[0, 0, 0] = 5  # peak inside the box
    cams[1, 0, 0], cams[1, 3, 3] = 5, 4  # peak outside, second-highest inside
    res = localisation(cams, masks, [1, 1, 0], [True, True, True])
    assert res["images"] == 2 and res["peak_in_box"] == 0.5 and res["any_of_top3_in_box"] == 1.0


def test_augmentation_warps_masks_with_the_image(torch_mod):
    torch = torch_mod
    from core.training.loop import augment

    x = torch.zeros(4, 1, 64, 64)
    x[:, :, 8:16, 40:48] = 1.0  # a bright square where the box is
    m = torch.zeros(4, 1, 16, 16)
    m[:, :, 2:4, 10:12] = 1.0
    xa, ma = augment(x, torch.Generator().manual_seed(3), m)
    def centroid(a, scale):
        ys, xs = torch.nonzero(a > 0.5, as_tuple=True)
        return torch.stack([ys.float().mean() + 0.5, xs.float().mean() + 0.5]) * scale

    moved = 0.0
    for i in range(4):
        c_img, c_mask = centroid(xa[i, 0], 1.0), centroid(ma[i, 0], 4.0)  # both in input pixels
        assert torch.linalg.norm(c_img - c_mask) < 3.0  # the box went where the square went
        moved += float(torch.linalg.norm(c_img - torch.tensor([12.0, 44.0])))
    assert moved > 4.0  # and the augmentation did move things
