"""The networks (torch): the shipped ``TriageNet`` (single-channel, ResNet-ish, global-average-pooling
head so a class-activation map comes for free), the seed's published architecture ``SeedNet`` (kept only
to measure it honestly under the same protocol), and ``ExportGraph``, the exact graph that goes to ONNX:
normalisation, optional horizontal-flip TTA, prior correction and temperature scaling all live inside it.

Import this module only where torch is installed (``core.training`` itself never imports torch).
"""

from __future__ import annotations

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


class TriageNet(nn.Module):
    """Greyscale X-ray (N,1,S,S) in [0,1] → fracture logit (N,).

    Stem: stride-2 conv; then one stride-2 conv per stage followed by ``blocks[i]`` residual blocks.
    Five stride-2 steps in all, so the feature map (and the CAM) is S/32 on a side. The head is global
    average pooling + one linear unit, hence ``logit == cam_logits.mean((1, 2))`` exactly.
    ``mean``/``std`` (buffers) normalise the [0,1] input inside the model.
    """

    def __init__(self, widths: tuple[int, ...] = (16, 24, 48, 96, 192), blocks: tuple[int, ...] = (0, 1, 1, 1, 1)):
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError("widths and blocks must have the same length")
        self.widths, self.blocks = tuple(widths), tuple(blocks)
        layers: list[nn.Module] = [_cbr(1, widths[0], 2)]
        layers += [ResBlock(widths[0]) for _ in range(blocks[0])]
        c = widths[0]
        for w, n in zip(widths[1:], blocks[1:]):
            layers.append(_cbr(c, w, 2))
            layers += [ResBlock(w) for _ in range(n)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, 1)
        self.register_buffer("mean", torch.tensor(0.5))
        self.register_buffer("std", torch.tensor(0.25))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init the last BN of each residual branch: blocks start as identity
            if isinstance(m, ResBlock):
                nn.init.zeros_(m.b[1].weight)

    def config(self) -> dict:
        return {"arch": "TriageNet", "widths": list(self.widths), "blocks": list(self.blocks)}

    def cam_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N,1,S,S) in [0,1] → (N,h,w) per-location logits (their mean is the image's logit)."""
        f = self.features((x - self.mean) / self.std)
        return torch.einsum("nchw,c->nhw", f, self.head.weight[0]) + self.head.bias[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features((x - self.mean) / self.std)
        return self.head(f.mean((2, 3)))[:, 0]


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
        return TriageNet(tuple(config["widths"]), tuple(config["blocks"]))
    if arch == "SeedNet":
        return SeedNet(int(config.get("size", 128)))
    raise ValueError(f"unknown architecture {arch!r}")


class ExportGraph(nn.Module):
    """What the ONNX file computes: ``image`` (N,1,S,S) in [0,1] → (``probability`` (N,), ``cam`` (N,h,w)).

    logit = mean of the CAM logits (averaged with the horizontally flipped image's, mapped back, when
    ``tta``); calibrated logit = (logit − prior_shift) / temperature, where prior_shift = log(oversampling
    factor of positives during training) undoes the class balancing and the temperature is fitted on
    out-of-fold predictions. ``probability`` = sigmoid(calibrated logit); ``cam`` = sigmoid of the
    calibrated per-location logits, in [0, 1].
    """

    def __init__(self, net: TriageNet, *, temperature: float = 1.0, prior_shift: float = 0.0, tta: bool = False):
        super().__init__()
        self.net = net
        self.tta = bool(tta)
        self.register_buffer("temperature", torch.tensor(float(temperature)))
        self.register_buffer("prior_shift", torch.tensor(float(prior_shift)))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cam = self.net.cam_logits(image)
        if self.tta:
            cam = 0.5 * (cam + torch.flip(self.net.cam_logits(torch.flip(image, dims=[3])), dims=[2]))
        cal = (cam - self.prior_shift) / self.temperature
        prob = torch.sigmoid(cal.mean((1, 2)))
        return prob, torch.sigmoid(cal)


def raw_logits(net: nn.Module, x: torch.Tensor, *, tta: bool) -> torch.Tensor:
    """Uncalibrated logits (N,), with the same flip TTA as ``ExportGraph`` (logit-averaged)."""
    out = net(x)
    if tta:
        out = 0.5 * (out + net(torch.flip(x, dims=[3])))
    return out
