"""The training loop and batched prediction (torch, CPU).

Images arrive as the cached uint8 letterboxed canvases; augmentation happens on the fly, on whole
batches, only for training samples: horizontal flip, a small random affine (rotation ±15°, scale
0.85–1.15, shift ±6%; black fill like the letterbox padding), and gamma/contrast jitter that keeps black
black. Class balancing: positives are repeated ``pos_factor`` times per epoch (the resulting prior
shift, log ``pos_factor``, is undone at calibration). AdamW with a one-cycle learning rate, bf16
autocast when the CPU supports it (fp32 otherwise), channels-last memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F


@dataclass
class FitConfig:
    epochs: int = 18
    batch: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.02
    pos_factor: int = 2
    seed: int = 0
    augment: bool = True
    bf16: bool = True
    threads: int = 2


def _bf16_ok() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3))
        return True
    except Exception:  # noqa: BLE001 - any failure means: stay in fp32
        return False


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flip + affine + gamma/contrast on a float batch (B,1,S,S) in [0,1]."""
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
    return (x.clamp_min(0) ** gamma * contrast).clamp(0, 1)


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
        set_stats: bool = True) -> torch.nn.Module:
    """Train ``net`` in place on uint8 images (N,S,S) with 0/1 labels; returns it in eval mode."""
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
    use_bf16 = cfg.bf16 and _bf16_ok()
    for epoch in range(cfg.epochs):
        net.train()
        t0, total, seen = time.time(), 0.0, 0
        order = rng.permutation(base)
        for s in range(steps_per_epoch):
            idx = np.sort(order[s * cfg.batch:(s + 1) * cfg.batch])
            x = to_float(images_u8, idx)
            if cfg.augment:
                x = augment(x, gen)
            x = x.contiguous(memory_format=torch.channels_last)
            y = torch.from_numpy(labels[idx])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                out = net(x)
            loss = F.binary_cross_entropy_with_logits(out.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        log(f"    epoch {epoch + 1}/{cfg.epochs} loss {total / max(seen, 1):.4f} ({time.time() - t0:.1f}s)")
    return net.eval().to(memory_format=torch.contiguous_format)


@torch.no_grad()
def predict_logits(net: torch.nn.Module, images_u8: np.ndarray, *, batch: int = 64,
                   threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(logits, logits of the horizontally flipped images), fp32, eval mode — both, so flip TTA can be
    judged on out-of-fold results without predicting twice."""
    torch.set_num_threads(threads)
    net.eval()
    plain, flipped = [], []
    for s in range(0, len(images_u8), batch):
        x = to_float(images_u8, np.arange(s, min(s + batch, len(images_u8))))
        plain.append(net(x).float().numpy())
        flipped.append(net(torch.flip(x, dims=[3])).float().numpy())
    if not plain:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    return np.concatenate(plain), np.concatenate(flipped)
