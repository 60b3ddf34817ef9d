"""The model card: the JSON file beside every ``.onnx`` that says what the model is (name, version,
input size and preprocessing, outputs, thresholds, metrics, data credit) and pins the exact ``.onnx``
bytes by SHA-256. Owns parsing, validation (a pydantic schema, ``_CardSchema``) and verification of
cards; nothing here runs a model.

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

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

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

    @property
    def scope_content(self) -> Optional[dict]:
        """The scope gate's content section (``scope.content``), or None (e.g. triagenet 1.0.0)."""
        scope = self.raw.get("scope") if isinstance(self.raw, dict) else None
        content = scope.get("content") if isinstance(scope, dict) else None
        return content if isinstance(content, dict) else None

    def summary_lines(self) -> list[str]:
        """Human-readable summary (``fracture-triage info``, the desktop About box)."""
        lines = [
            f"model: {self.name} {self.version}",
            f"input: {self.input_name} {self.channels}x{self.input_size}x{self.input_size} {self.dtype}, "
            f"preprocessing {self.preprocessing}",
            f"outputs: {', '.join(self.output_names)}",
            f"thresholds: suspicious >= {self.thresholds.suspicious:g}, definite >= {self.thresholds.definite:g}",
        ]
        content = self.scope_content
        if content is None:
            lines.append("scope gate: DICOM tags, colour and image quality only (no content statistics in this "
                         "card: images without tags are not compared with the training images)")
        else:
            gated = content.get("oof_gated")
            lines.append(f"scope gate: DICOM tags, colour, image quality and image content (distance threshold "
                         f"{float(content['threshold']):.4g}"
                         + (f", {float(gated):.1%} of out-of-fold training images gated" if gated is not None else "")
                         + ")")
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


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)


class _InputSchema(_Strict):
    name: str
    size: int
    channels: int
    dtype: str
    preprocessing: str

    @field_validator("size")
    @classmethod
    def _plausible(cls, v: int) -> int:
        if not 8 <= v <= 4096:
            raise ValueError(f"input size {v} is not plausible")
        return v

    @field_validator("channels")
    @classmethod
    def _grey(cls, v: int) -> int:
        if v != 1:
            raise ValueError(f"the app feeds 1-channel (greyscale) input, card says {v}")
        return v

    @field_validator("dtype")
    @classmethod
    def _float32(cls, v: str) -> str:
        if v != "float32":
            raise ValueError(f"input dtype must be float32, card says {v}")
        return v

    @field_validator("preprocessing")
    @classmethod
    def _ours(cls, v: str) -> str:
        if v != PREPROCESSING_ID:
            raise ValueError(f"preprocessing '{v}' is not what this app does ('{PREPROCESSING_ID}')")
        return v


class _OutputSchema(_Strict):
    name: str


class _ThresholdsSchema(_Strict):
    suspicious: float
    definite: float

    @model_validator(mode="after")
    def _ordered(self) -> "_ThresholdsSchema":
        if not 0.0 <= self.suspicious <= self.definite <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= suspicious <= definite <= 1")
        return self


class _CardSchema(_Strict):
    """The card's JSON as the app requires it (training adds more keys; they are kept in ``raw``)."""

    name: str
    version: str
    input: _InputSchema
    outputs: list[_OutputSchema]
    thresholds: _ThresholdsSchema
    sha256: str
    metrics: Any = None
    intended_use: Any = None
    data_credit: Any = None

    @field_validator("outputs")
    @classmethod
    def _some(cls, v: list) -> list:
        if not v:
            raise ValueError("'outputs' must list objects with a 'name'")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str) -> str:
        v = v.lower()
        if len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
            raise ValueError("'sha256' is not a SHA-256 hex digest")
        return v


def _problem(exc: ValidationError, where: Path) -> ModelError:
    """The first validation problem as one line naming the card and the field."""
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "card"
    kind = err["type"]
    if kind == "missing":
        return ModelError(f"model card {where} is missing '{loc}'")
    if kind == "value_error":
        return ModelError(f"model card {where}: {str(err['msg']).removeprefix('Value error, ')}")
    if kind.endswith("_type") or kind in ("model_attributes_type", "is_instance_of", "finite_number"):
        if loc.startswith("outputs"):
            return ModelError(f"model card {where}: 'outputs' must list objects with a 'name'")
        got = err.get("input")
        return ModelError(f"model card {where}: '{loc}' has the wrong type ({type(got).__name__})")
    return ModelError(f"model card {where}: '{loc}' {err['msg']}")


def parse_card(raw: Any, where: Path) -> ModelCard:
    """Validate a decoded card dict (raises ModelError naming the first problem)."""
    if not isinstance(raw, dict):
        raise ModelError(f"model card {where} is not a JSON object")
    try:
        card = _CardSchema.model_validate(raw)
    except ValidationError as exc:
        raise _problem(exc, where) from None
    metrics = card.metrics or {}
    _check_scope(raw, where)
    return ModelCard(
        name=card.name,
        version=card.version,
        input_name=card.input.name,
        input_size=card.input.size,
        channels=card.input.channels,
        dtype=card.input.dtype,
        preprocessing=card.input.preprocessing,
        outputs=tuple(raw["outputs"]),
        thresholds=Thresholds(card.thresholds.suspicious, card.thresholds.definite),
        sha256=card.sha256,
        metrics=metrics if isinstance(metrics, dict) else {"value": metrics},
        intended_use=str(card.intended_use or ""),
        data_credit=str(card.data_credit or ""),
        path=where,
        raw=raw,
    )


def _check_scope(raw: dict, where: Path) -> None:
    """The optional ``scope.content`` section (the scope gate's statistics, ``core.scope.content``)."""
    scope = raw.get("scope")
    if scope is None:
        return
    if not isinstance(scope, dict):
        raise ModelError(f"model card {where}: 'scope' must be an object")
    content = scope.get("content")
    if content is None:
        return
    from core.scope.content import ContentGateError, load_section

    try:
        load_section(content)
    except ContentGateError as exc:
        raise ModelError(f"model card {where}: {exc}") from None
    names = [o.get("name") for o in raw.get("outputs", []) if isinstance(o, dict)]
    if "embedding" not in names:
        raise ModelError(f"model card {where}: 'scope.content' needs an 'embedding' output, the card lists none")


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
