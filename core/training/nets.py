"""The networks (torch): ``TriageNet`` (single-channel, ResNet-ish) with two heads — ``gap`` (1.0.0:
global-average-pooling + linear, the CAM at stride 32 and the image logit its mean) and ``map16`` (2.0.0:
a stride-16 per-cell logit map from the last two stages, the image logit pooled from the map by
log-sum-exp, trained with a per-cell loss from the fracture boxes) — the seed's published architecture
``SeedNet`` (kept only to measure it honestly under the same protocol), and ``ExportGraph``, the exact
graph that goes to ONNX: normalisation, optional horizontal-flip TTA, pooling, prior correction,
temperature scaling and the pooled embedding all live inside it.

Import this module only where torch is installed (``core.training`` itself never imports torch).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _cbr(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """Two 3×3 conv-BN layers with an identity shortcut."""

    def __init__(self, c: int):
        super().__init__()
        self.a = _cbr(c, c)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


def lse_pool(z: torch.Tensor, r: float) -> torch.Tensor:
    """(N,h,w) cell logits → (N,) image logits: (1/r)·log(mean(exp(r·z))), between mean (r→0) and max."""
    flat = z.flatten(1)
    return (torch.logsumexp(r * flat, dim=1) - math.log(flat.shape[1])) / r


def pooled_mean(net: nn.Module, cams: list[torch.Tensor]) -> torch.Tensor:
    """The image logit of one or several tops' cell maps: each map pooled by ``net.pool``, the logits
    averaged (a single map: its pooled logit)."""
    if len(cams) == 1:
        return net.pool(cams[0])
    return torch.stack([net.pool(c) for c in cams]).mean(0)


class TriageNet(nn.Module):
    """Greyscale X-ray (N,1,S,S) in [0,1] → fracture logit (N,).

    Stem: stride-2 conv; then one stride-2 conv per stage followed by ``blocks[i]`` residual blocks.
    Five stride-2 steps in all. ``mean``/``std`` (buffers) normalise the [0,1] input inside the model.

    * ``head="gap"`` (1.0.0): global average pooling + one linear unit on the stride-32 features, hence
      ``logit == cam_logits.mean((1, 2))`` exactly (an S/32 map).
    * ``head="map16"`` (2.0.0): the stride-32 features, reduced and upsampled, are added to the stride-16
      features (a one-step feature pyramid), then a 3×3 conv and a 1×1 conv give one logit per 16×16-pixel
      cell (an S/16 map). The image logit is ``lse_pool(cam_logits, lse_r)``. Trained with a per-cell
      loss against the fracture boxes (``core.training.loop``).

    ``embedding(x)`` is the global average of the last stage's features (the scope gate's input).
    """

    def __init__(self, widths: tuple[int, ...] = (16, 24, 48, 96, 192), blocks: tuple[int, ...] = (0, 1, 1, 1, 1),
                 head: str = "gap", lse_r: float = 4.0, head_width: int = 64):
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError("widths and blocks must have the same length")
        if head not in ("gap", "map16"):
            raise ValueError(f"unknown head {head!r}")
        self.widths, self.blocks, self.head_kind = tuple(widths), tuple(blocks), head
        self.lse_r, self.head_width = float(lse_r), int(head_width)
        layers: list[nn.Module] = [_cbr(1, widths[0], 2)]
        layers += [ResBlock(widths[0]) for _ in range(blocks[0])]
        c = widths[0]
        stage_ends = []
        for w, n in zip(widths[1:], blocks[1:]):
            layers.append(_cbr(c, w, 2))
            layers += [ResBlock(w) for _ in range(n)]
            c = w
            stage_ends.append(len(layers))
        self.features = nn.Sequential(*layers)
        self._split = stage_ends[-2]  # layers[:split] end at stride 16
        if head == "gap":
            self.head = nn.Linear(c, 1)
        else:
            hw = self.head_width
            self.lat16 = nn.Sequential(nn.Conv2d(widths[-2], hw, 1, bias=False), nn.BatchNorm2d(hw))
            self.lat32 = nn.Sequential(nn.Conv2d(c, hw, 1, bias=False), nn.BatchNorm2d(hw))
            self.smooth = _cbr(hw, hw)
            self.cell = nn.Conv2d(hw, 1, 1)
            nn.init.constant_(self.cell.bias, -2.0)  # fracture cells are rare: start the map low
        self.register_buffer("mean", torch.tensor(0.5))
        self.register_buffer("std", torch.tensor(0.25))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init the last BN of each residual branch: blocks start as identity
            if isinstance(m, ResBlock):
                nn.init.zeros_(m.b[1].weight)

    def config(self) -> dict:
        cfg = {"arch": "TriageNet", "widths": list(self.widths), "blocks": list(self.blocks)}
        if self.head_kind != "gap":
            cfg.update(head=self.head_kind, lse_r=self.lse_r, head_width=self.head_width)
        return cfg

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,1,S,S) in [0,1] → (cell logits (N,h,w), embedding (N,C)) in one pass."""
        x = (x - self.mean) / self.std
        if self.head_kind == "gap":
            f = self.features(x)
            cam = torch.einsum("nchw,c->nhw", f, self.head.weight[0]) + self.head.bias[0]
            return cam, f.mean((2, 3))
        f16 = self.features[:self._split](x)
        f32 = self.features[self._split:](f16)
        top = F.interpolate(self.lat32(f32), size=f16.shape[-2:], mode="nearest")
        cam = self.cell(self.smooth(F.relu(self.lat16(f16) + top)))[:, 0]
        return cam, f32.mean((2, 3))

    def cam_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N,1,S,S) in [0,1] → (N,h,w) per-location logits (``pool`` of them is the image's logit)."""
        return self.maps(x)[0]

    def pool(self, cam: torch.Tensor) -> torch.Tensor:
        """Cell logits (N,h,w) → image logits (N,)."""
        return cam.mean((1, 2)) if self.head_kind == "gap" else lse_pool(cam, self.lse_r)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps(x)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.head_kind == "gap":
            f = self.features((x - self.mean) / self.std)
            return self.head(f.mean((2, 3)))[:, 0]
        return self.pool(self.cam_logits(x))


class SeedNet(nn.Module):
    """The seed's published architecture: 3 × (conv 3×3 'valid' + ReLU + max-pool 2) with 32/64/128
    filters, Flatten, Dense 256 + ReLU, dropout 0.5, one logit; 128×128 RGB input (the greyscale image
    replicated to three channels — for this baseline only)."""

    def __init__(self, size: int = 128):
        super().__init__()
        self.size = size
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        side = (((size - 2) // 2 - 2) // 2 - 2) // 2
        self.fc = nn.Sequential(nn.Linear(128 * side * side, 256), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(256, 1))

    def config(self) -> dict:
        return {"arch": "SeedNet", "size": self.size}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x.expand(-1, 3, -1, -1)))[:, 0]


def build_net(config: dict) -> nn.Module:
    """Rebuild a network from ``net.config()`` (stored in checkpoints)."""
    arch = config.get("arch")
    if arch == "TriageNet":
        return TriageNet(tuple(config["widths"]), tuple(config["blocks"]), head=config.get("head", "gap"),
                         lse_r=float(config.get("lse_r", 4.0)), head_width=int(config.get("head_width", 64)))
    if arch == "Lite0Map16":
        from core.training.lite import Lite0Ensemble, Lite0Map16

        tops = int(config.get("tops", 1))
        nets = [Lite0Map16(int(config.get("head_width", 64)), float(config.get("lse_r", 4.0)),
                           trunk_blocks=int(config.get("trunk_blocks", 11))) for _ in range(tops)]
        return nets[0] if tops == 1 else Lite0Ensemble(nets)
    if arch == "SeedNet":
        return SeedNet(int(config.get("size", 128)))
    raise ValueError(f"unknown architecture {arch!r}")


class ExportGraph(nn.Module):
    """What the ONNX file computes: ``image`` (N,1,S,S) in [0,1] → (``probability`` (N,), ``cam`` (N,h,w),
    and with ``with_embedding`` ``embedding`` (N,C)).

    The cell logits are averaged with the horizontally flipped image's (mapped back) when ``tta``; the
    image logit is the network's pooling of them (mean for ``gap``, log-sum-exp for ``map16``; with
    several tops on one trunk, each top's map pooled and the logits averaged, ``cam`` the mean map);
    calibrated logit = (logit − prior_shift) / temperature, where prior_shift = log(oversampling factor
    of positives during training) undoes the class balancing and the temperature is fitted on
    out-of-fold predictions. ``probability`` = sigmoid(calibrated logit); ``cam`` = sigmoid of the
    calibrated per-cell logits, in [0, 1]; ``embedding`` = the pooled last-stage features (averaged over
    the two views with TTA), for the scope gate.
    """

    def __init__(self, net: TriageNet, *, temperature: float = 1.0, prior_shift: float = 0.0, tta: bool = False,
                 with_embedding: bool = False):
        super().__init__()
        self.net = net
        self.tta = bool(tta)
        self.with_embedding = bool(with_embedding)
        self.register_buffer("temperature", torch.tensor(float(temperature)))
        self.register_buffer("prior_shift", torch.tensor(float(prior_shift)))

    def forward(self, image: torch.Tensor):
        several = hasattr(self.net, "member_maps")  # several tops: each top's map pooled, the logits averaged
        maps = self.net.member_maps if several else self.net.maps
        cams, emb = maps(image)
        cams = list(cams) if several else [cams]
        if self.tta:
            cams_f, emb_f = maps(torch.flip(image, dims=[3]))
            cams_f = list(cams_f) if several else [cams_f]
            cams = [0.5 * (c + torch.flip(f, dims=[2])) for c, f in zip(cams, cams_f)]
            emb = 0.5 * (emb + emb_f)
        cam = cams[0] if len(cams) == 1 else torch.stack(cams).mean(0)
        logit = pooled_mean(self.net, cams)
        prob = torch.sigmoid((logit - self.prior_shift) / self.temperature)
        cam_p = torch.sigmoid((cam - self.prior_shift) / self.temperature)
        if self.with_embedding:
            return prob, cam_p, emb
        return prob, cam_p


def raw_logits(net: nn.Module, x: torch.Tensor, *, tta: bool) -> torch.Tensor:
    """Uncalibrated logits (N,), with the same flip TTA as ``ExportGraph`` (logit-averaged)."""
    out = net(x)
    if tta:
        out = 0.5 * (out + net(torch.flip(x, dims=[3])))
    return out
