"""Builds small ONNX models with valid model cards for tests (no torch needed).

The fake model follows the real model's I/O contract: input ``image`` float32 (N, 1, S, S) in [0, 1];
outputs ``probability`` float32 (N,) and ``cam`` float32 (N, S/8, S/8), and with ``with_embedding``
``embedding`` float32 (N, 16): the mean brightness of each cell of a 4×4 grid (what model 2.0's pooled
features are to the scope gate). Its probability is sigmoid(gain * (mean brightness - 0.5)), so tests
can make images that rank predictably.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


def build_onnx(size: int = 64, gain: float = 8.0, with_cam: bool = True, with_embedding: bool = False) -> bytes:
    import onnx
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, size, size])
    outs = [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N"])]
    inits = [
        helper.make_tensor("gain", TensorProto.FLOAT, [], [gain]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("axes_c", TensorProto.INT64, [1], [1]),
        helper.make_tensor("emb_shape", TensorProto.INT64, [2], [0, 16]),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=0),  # opset 17: axes attribute
        helper.make_node("Sub", ["mean", "half"], ["centered"]),
        helper.make_node("Mul", ["centered", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
    ]
    if with_cam:
        outs.append(helper.make_tensor_value_info("cam", TensorProto.FLOAT, ["N", size // 8, size // 8]))
        nodes += [
            helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
            helper.make_node("Squeeze", ["pooled", "axes_c"], ["cam"]),
        ]
    if with_embedding:
        k = size // 4
        outs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 16]))
        nodes += [
            helper.make_node("AveragePool", ["image"], ["grid"], kernel_shape=[k, k], strides=[k, k]),
            helper.make_node("Reshape", ["grid", "emb_shape"], ["embedding"]),
        ]
    graph = helper.make_graph(nodes, "fake_fracture_model", [inp], outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def make_card(onnx_bytes: bytes, *, name: str = "testnet", version: str = "0.0.1-test", size: int = 64,
              with_cam: bool = True, suspicious: float = 0.3, definite: float = 0.7,
              with_embedding: bool = False, scope: dict | None = None) -> dict:
    outputs = [{"name": "probability", "shape": ["N"], "meaning": "calibrated probability of a fracture"}]
    if with_cam:
        outputs.append({"name": "cam", "shape": ["N", size // 8, size // 8], "meaning": "class-activation map"})
    if with_embedding:
        outputs.append({"name": "embedding", "shape": ["N", 16], "meaning": "pooled features (4x4 cell means)"})
    card = {
        "name": name,
        "version": version,
        "input": {"name": "image", "size": size, "channels": 1, "dtype": "float32",
                  "preprocessing": "letterbox-grey-v1"},
        "outputs": outputs,
        "thresholds": {"suspicious": suspicious, "definite": definite},
        "metrics": {"note": "test model, no metrics"},
        "intended_use": "Tests only.",
        "data_credit": "none (synthetic test model)",
        "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
    }
    if scope is not None:
        card["scope"] = scope
    return card


def write_model(directory: Path, **kwargs) -> Path:
    """Write ``<name>-<version>.onnx`` and ``<name>-<version>.json`` into ``directory``; return the .onnx path."""
    size = kwargs.pop("size", 64)
    with_cam = kwargs.pop("with_cam", True)
    gain = kwargs.pop("gain", 8.0)
    with_embedding = kwargs.pop("with_embedding", False)
    data = build_onnx(size=size, gain=gain, with_cam=with_cam, with_embedding=with_embedding)
    card = make_card(data, size=size, with_cam=with_cam, with_embedding=with_embedding, **kwargs)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{card['name']}-{card['version']}"
    (directory / f"{stem}.onnx").write_bytes(data)
    (directory / f"{stem}.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    return directory / f"{stem}.onnx"


def expected_probability(mean01: float, gain: float = 8.0) -> float:
    return float(1.0 / (1.0 + np.exp(-gain * (mean01 - 0.5))))


def grid_embedding(canvas: np.ndarray) -> np.ndarray:
    """What the test model's ``embedding`` output is for one uint8 S×S model-input canvas."""
    a = np.asarray(canvas, dtype=np.float32) / 255.0
    s = a.shape[0]
    k = s // 4
    return a[: 4 * k, : 4 * k].reshape(4, k, 4, k).mean(axis=(1, 3)).reshape(16)
