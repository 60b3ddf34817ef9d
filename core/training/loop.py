"""The training loop and batched prediction (torch, CPU).

Images arrive as the cached uint8 letterboxed canvases; augmentation happens on the fly, on whole
batches, only for training samples: horizontal flip, a small random affine (rotation ±15°, scale
0.85–1.15, shift ±6%; black fill like the letterbox padding), and gamma/contrast jitter that keeps black
black. Class balancing: positives are repeated ``pos_factor`` times per epoch (the resulting prior
shift, log ``pos_factor``, is undone at calibration). AdamW with a one-cycle learning rate, fp32 by
default (bf16 autocast only when asked for and a timed step shows it is not slower: CPUs without native
bf16 emulate it, ~18× slower), channels-last memory; optionally (``ema``) the weights are averaged over
the steps (exponential moving average, batch-norm statistics included).

Box supervision (``cell_weight`` > 0, networks with a ``map16`` head): the fracture-box masks
(``core.training.boxes``) are warped with exactly the image's affine transform, reduced to the model's
cells, and a per-cell BCE (positive cells weighted ``cell_pos_weight``) is added to the image BCE for
every image whose cells are known (all non-fractured images; fractured images with boxes).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from core.training.nets import pooled_mean


@dataclass
class FitConfig:
    epochs: int = 18
    batch: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.02
    pos_factor: int = 2
    seed: int = 0
    augment: bool = True
    bf16: bool = False
    threads: int = 2
    cell_weight: float = 0.0
    cell_pos_weight: float = 8.0
    frozen_versions: int = 0  # Lite0Map16: versions of each image whose frozen-trunk features are cached
    member: int = 0  # Lite0Map16 with several tops: which top this is (its training draws from seed + member)
    ema: float = 0.0  # > 0: the trained weights are their exponential moving average over the steps (this decay)


def _bf16_ok(net: torch.nn.Module | None = None, size: int = 128) -> bool:
    """bf16 autocast only where it works AND a timed training step is not slower than fp32."""
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3))
    except Exception:  # noqa: BLE001 - any failure means: stay in fp32
        return False
    if net is None:
        return True
    x = torch.rand(8, 1, size, size)

    def step(bf16: bool) -> float:
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(x)
        out.float().sum().backward()
        net.zero_grad(set_to_none=True)
        return time.perf_counter() - t0

    step(False), step(True)
    return min(step(True) for _ in range(2)) < min(step(False) for _ in range(2))


class WeightAverage:
    """``ema`` > 0: an exponential moving average of a network's weights and buffers (batch-norm statistics
    included), updated after every optimiser step and copied into the network at the end of training."""

    def __init__(self, net: torch.nn.Module, decay: float):
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        self.avg = (AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
                    if decay > 0 else None)

    def update(self, net: torch.nn.Module) -> None:
        if self.avg is not None:
            self.avg.update_parameters(net)

    def finish(self, net: torch.nn.Module) -> torch.nn.Module:
        if self.avg is not None:
            net.load_state_dict(self.avg.module.state_dict())
        return net


def augment(x: torch.Tensor, gen: torch.Generator, masks: torch.Tensor | None = None):
    """Random flip + affine + gamma/contrast on a float batch (B,1,S,S) in [0,1]; with ``masks``
    (B,1,m,m) float, returns (x, masks) with the masks warped by the same transform."""
    b = x.shape[0]
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(b, generator=gen)  # noqa: E731
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    ang = u(-15, 15) * math.pi / 180
    scale = u(0.85, 1.15)
    tx, ty = u(-0.06, 0.06), u(-0.06, 0.06)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    gamma = torch.exp(u(-0.25, 0.25)).view(b, 1, 1, 1)
    contrast = u(0.85, 1.15).view(b, 1, 1, 1)
    x = (x.clamp_min(0) ** gamma * contrast).clamp(0, 1)
    if masks is None:
        return x
    mgrid = F.affine_grid(theta, list(masks.shape), align_corners=False)
    return x, F.grid_sample(masks, mgrid, mode="bilinear", padding_mode="zeros", align_corners=False)


def cell_loss(cam: torch.Tensor, masks: torch.Tensor, supervised: torch.Tensor, pos_weight: float) -> torch.Tensor:
    """Per-cell BCE of cell logits (B,h,w) against (B,1,m,m) warped box masks, over supervised images."""
    h = cam.shape[-1]
    tgt = (F.adaptive_max_pool2d(masks, h)[:, 0] > 0.5).float()
    w = supervised.float().view(-1, 1, 1)
    per = F.binary_cross_entropy_with_logits(cam, tgt, reduction="none",
                                             pos_weight=torch.tensor(float(pos_weight)))
    return (per * w).sum() / (w.sum() * cam.shape[1] * cam.shape[2]).clamp_min(1.0)


def to_float(images_u8: np.ndarray, idx) -> torch.Tensor:
    """Cached canvases → the model's input tensor with the app's own ``to_tensor`` (bit-identical)."""
    from core.imaging.preprocess import to_tensor

    return torch.from_numpy(to_tensor(images_u8[idx]))


def set_input_stats(net: torch.nn.Module, images_u8: np.ndarray) -> None:
    """Set the network's normalisation buffers from the training images (mean/std of all pixels)."""
    if hasattr(net, "mean"):
        sample = images_u8[:: max(1, len(images_u8) // 400)].astype(np.float32) / 255.0
        net.mean.fill_(float(sample.mean()))
        net.std.fill_(float(max(sample.std(), 1e-3)))


def fit(net: torch.nn.Module, images_u8: np.ndarray, labels: np.ndarray, cfg: FitConfig, *, log=print,
        set_stats: bool = True, masks: np.ndarray | None = None,
        supervised: np.ndarray | None = None) -> torch.nn.Module:
    """Train ``net`` in place on uint8 images (N,S,S) with 0/1 labels; returns it in eval mode.

    ``masks`` (N,m,m) uint8 box masks and ``supervised`` (N,) bool turn on the per-cell loss when
    ``cfg.cell_weight`` > 0 and the network has a cell map (``head == "map16"``)."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    labels = np.asarray(labels).astype(np.float32)
    if set_stats:
        set_input_stats(net, images_u8)
    pos = np.flatnonzero(labels == 1)
    base = np.concatenate([np.arange(len(labels))] + [pos] * max(0, cfg.pos_factor - 1))
    steps_per_epoch = max(1, len(base) // cfg.batch)
    net = net.to(memory_format=torch.channels_last)
    decay = [p for n, p in net.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in net.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=0.2, div_factor=20, final_div_factor=200)
    use_bf16 = cfg.bf16 and _bf16_ok(net)
    use_cells = (cfg.cell_weight > 0 and masks is not None and supervised is not None
                 and getattr(net, "head_kind", "gap") != "gap")
    average = WeightAverage(net, cfg.ema)
    for epoch in range(cfg.epochs):
        net.train()
        t0, total, seen = time.time(), 0.0, 0
        order = rng.permutation(base)
        for s in range(steps_per_epoch):
            idx = np.sort(order[s * cfg.batch:(s + 1) * cfg.batch])
            x = to_float(images_u8, idx)
            m = torch.from_numpy(masks[idx].astype(np.float32))[:, None] if use_cells else None
            if cfg.augment:
                x, m = augment(x, gen, m) if use_cells else (augment(x, gen), None)
            x = x.contiguous(memory_format=torch.channels_last)
            y = torch.from_numpy(labels[idx])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                if use_cells:
                    cam = net.cam_logits(x).float()
                    out = net.pool(cam)
                else:
                    out = net(x)
            loss = F.binary_cross_entropy_with_logits(out.float(), y)
            if use_cells:
                sup = torch.from_numpy(supervised[idx])
                loss = loss + cfg.cell_weight * cell_loss(cam, m, sup, cfg.cell_pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            average.update(net)
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        log(f"    epoch {epoch + 1}/{cfg.epochs} loss {total / max(seen, 1):.4f} ({time.time() - t0:.1f}s)")
    return average.finish(net).eval().to(memory_format=torch.contiguous_format)


@dataclass
class Predictions:
    """Eval-mode outputs on a set of images: logits of the image and of its horizontal flip (so flip
    TTA can be judged out of fold without predicting twice), the TTA logit exactly as the exported
    graph pools it (cell maps averaged, then pooled), the TTA-averaged cell logits, and the embeddings
    of the image alone (what the exported graph gives without TTA) and averaged with its flip (with TTA)."""

    logits: np.ndarray
    flipped: np.ndarray
    tta: np.ndarray
    cams: np.ndarray  # float16 (N, h, w)
    embeddings: np.ndarray  # float16 (N, C), the image alone
    embeddings_tta: np.ndarray | None = None  # float16 (N, C), averaged with the flipped image's


PARTS = ("logits", "flipped", "tta", "cams", "embeddings", "embeddings_tta")


def add_map_outputs(parts: dict, net: torch.nn.Module, plain: tuple, flipped: tuple) -> None:
    """Append one batch's ``Predictions`` fields from (cell logits, embedding) of the images and of their
    horizontal flips (the flipped map is mapped back before averaging, as the exported graph does).

    With several tops (``Lite0Ensemble.member_maps``) the cell logits are a list, one map per top: each
    top's map is pooled on its own and the image logits averaged; the heatmap is the tops' mean map."""
    cams, emb = plain
    cams_f, emb_f = flipped
    if not isinstance(cams, (list, tuple)):
        cams, cams_f = [cams], [cams_f]
    cams_f = [torch.flip(c, dims=[2]) for c in cams_f]
    avg = [0.5 * (a + b) for a, b in zip(cams, cams_f)]

    parts["logits"].append(pooled_mean(net, cams).numpy())
    parts["flipped"].append(pooled_mean(net, cams_f).numpy())
    parts["tta"].append(pooled_mean(net, avg).numpy())
    parts["cams"].append(torch.stack(avg).mean(0).numpy().astype(np.float16))
    parts["embeddings"].append(emb.numpy().astype(np.float16))
    parts["embeddings_tta"].append((0.5 * (emb + emb_f)).numpy().astype(np.float16))


def predictions_from(parts: dict) -> "Predictions":
    cat = {k: (np.concatenate(v) if v else None) for k, v in parts.items()}
    return Predictions(cat["logits"], cat["flipped"], cat["tta"], cat["cams"], cat["embeddings"], cat["embeddings_tta"])


@torch.no_grad()
def predict(net: torch.nn.Module, images_u8: np.ndarray, *, batch: int = 64, threads: int = 2) -> Predictions:
    torch.set_num_threads(threads)
    net.eval()
    parts: dict[str, list] = {k: [] for k in PARTS}
    for s in range(0, len(images_u8), batch):
        x = to_float(images_u8, np.arange(s, min(s + batch, len(images_u8))))
        if hasattr(net, "member_maps"):
            add_map_outputs(parts, net, net.member_maps(x), net.member_maps(torch.flip(x, dims=[3])))
        elif hasattr(net, "maps"):
            add_map_outputs(parts, net, net.maps(x), net.maps(torch.flip(x, dims=[3])))
        else:
            lo, fl = net(x).float().numpy(), net(torch.flip(x, dims=[3])).float().numpy()
            parts["logits"].append(lo)
            parts["flipped"].append(fl)
            parts["tta"].append(0.5 * (lo + fl))
    if not parts["logits"]:
        z = np.zeros(0, np.float32)
        return Predictions(z, z, z, np.zeros((0, 0, 0), np.float16), np.zeros((0, 0), np.float16))
    return predictions_from(parts)
