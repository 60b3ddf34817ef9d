"""The model card: the JSON file beside every ``.onnx`` that says what the model is (name, version,
input size and preprocessing, outputs, thresholds, metrics, data credit) and pins the exact ``.onnx``
bytes by SHA-256. Owns parsing, validation and verification of cards; nothing here runs a model.

A card is ``<stem>.json`` next to ``<stem>.onnx``. The app refuses a model whose card is missing,
unreadable, incomplete, for another preprocessing, or whose ``sha256`` does not match the file.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from core.imaging.preprocess import PREPROCESSING_ID


class ModelError(Exception):
    """The model cannot be used (missing, tampered with, unreadable, wrong shape). ``str()`` is the
    one-line message shown to the user."""


@dataclass(frozen=True)
class Thresholds:
    """Probability cut-offs from the card: at or above ``definite`` → 'definite', at or above
    ``suspicious`` → 'suspicious', else no flag."""

    suspicious: float
    definite: float

    def flag(self, p: Optional[float]) -> Optional[str]:
        if p is None or (isinstance(p, float) and math.isnan(p)):
            return None
        if p >= self.definite:
            return "definite"
        if p >= self.suspicious:
            return "suspicious"
        return None


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    input_name: str
    input_size: int
    channels: int
    dtype: str
    preprocessing: str
    outputs: tuple[dict, ...]
    thresholds: Thresholds
    sha256: str
    metrics: dict = field(default_factory=dict)
    intended_use: str = ""
    data_credit: str = ""
    path: Optional[Path] = None  # the JSON file it was read from
    raw: dict = field(default_factory=dict, repr=False, compare=False)  # everything, incl. what training adds

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(str(o.get("name", "")) for o in self.outputs)

    @property
    def has_cam(self) -> bool:
        return "cam" in self.output_names

    def summary_lines(self) -> list[str]:
        """Human-readable summary (``fracture-triage info``, the desktop About box)."""
        lines = [
            f"model: {self.name} {self.version}",
            f"input: {self.input_name} {self.channels}x{self.input_size}x{self.input_size} {self.dtype}, "
            f"preprocessing {self.preprocessing}",
            f"outputs: {', '.join(self.output_names)}",
            f"thresholds: suspicious >= {self.thresholds.suspicious:g}, definite >= {self.thresholds.definite:g}",
        ]
        for key, value in self.metrics.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value, sort_keys=True)
            lines.append(f"metric {key}: {value}")
        if self.intended_use:
            lines.append(f"intended use: {self.intended_use}")
        if self.data_credit:
            lines.append(f"data: {self.data_credit}")
        lines.append(f"sha256: {self.sha256}")
        return lines


def card_path_for(onnx_path: Path) -> Path:
    return Path(onnx_path).with_suffix(".json")


def _get(raw: dict, dotted: str, kind: type | tuple[type, ...], where: Path) -> Any:
    value: Any = raw
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ModelError(f"model card {where} is missing '{dotted}'")
        value = value[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ModelError(f"model card {where}: '{dotted}' has the wrong type ({type(value).__name__})")
    return value


def parse_card(raw: Any, where: Path) -> ModelCard:
    """Validate a decoded card dict (raises ModelError naming the first problem)."""
    if not isinstance(raw, dict):
        raise ModelError(f"model card {where} is not a JSON object")
    size = _get(raw, "input.size", int, where)
    if not 8 <= size <= 4096:
        raise ModelError(f"model card {where}: input size {size} is not plausible")
    channels = _get(raw, "input.channels", int, where)
    if channels != 1:
        raise ModelError(f"model card {where}: the app feeds 1-channel (greyscale) input, card says {channels}")
    dtype = _get(raw, "input.dtype", str, where)
    if dtype != "float32":
        raise ModelError(f"model card {where}: input dtype must be float32, card says {dtype}")
    prep = _get(raw, "input.preprocessing", str, where)
    if prep != PREPROCESSING_ID:
        raise ModelError(
            f"model card {where}: preprocessing '{prep}' is not what this app does ('{PREPROCESSING_ID}')"
        )
    outputs = _get(raw, "outputs", list, where)
    if not outputs or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
        raise ModelError(f"model card {where}: 'outputs' must list objects with a 'name'")
    suspicious = _get(raw, "thresholds.suspicious", float, where)
    definite = _get(raw, "thresholds.definite", float, where)
    if not 0.0 <= suspicious <= definite <= 1.0:
        raise ModelError(f"model card {where}: thresholds must satisfy 0 <= suspicious <= definite <= 1")
    sha = _get(raw, "sha256", str, where).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ModelError(f"model card {where}: 'sha256' is not a SHA-256 hex digest")
    metrics = raw.get("metrics") or {}
    return ModelCard(
        name=_get(raw, "name", str, where),
        version=_get(raw, "version", str, where),
        input_name=_get(raw, "input.name", str, where),
        input_size=size,
        channels=channels,
        dtype=dtype,
        preprocessing=prep,
        outputs=tuple(outputs),
        thresholds=Thresholds(suspicious, definite),
        sha256=sha,
        metrics=metrics if isinstance(metrics, dict) else {"value": metrics},
        intended_use=str(raw.get("intended_use") or ""),
        data_credit=str(raw.get("data_credit") or ""),
        path=where,
        raw=raw,
    )


def load_card(card_path: Path) -> ModelCard:
    card_path = Path(card_path)
    try:
        text = card_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"model card {card_path} is missing: every model needs its card beside it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read model card {card_path}: {exc}") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ModelError(f"model card {card_path} is not valid JSON: {exc}") from None
    return parse_card(raw, card_path)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_verified_card(onnx_path: Path) -> ModelCard:
    """The card of ``onnx_path`` after checking the model file exists and matches the card's sha256."""
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise ModelError(f"model file {onnx_path} does not exist")
    card = load_card(card_path_for(onnx_path))
    try:
        actual = file_sha256(onnx_path)
    except OSError as exc:
        raise ModelError(f"cannot read model file {onnx_path}: {exc}") from None
    if actual != card.sha256:
        raise ModelError(
            f"model file {onnx_path} does not match its card (sha256 {actual[:12]}… ≠ card's "
            f"{card.sha256[:12]}…): the file was changed or the card belongs to another model; refusing it"
        )
    return card
