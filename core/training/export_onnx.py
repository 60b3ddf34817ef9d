"""ONNX export of ``nets.ExportGraph`` (torch → ONNX, opset 17, dynamic batch), the torch/ONNX parity
check (every output), and the onnxruntime speed measurement recorded in the card.
"""

from __future__ import annotations

import io
import time

import numpy as np

OPSET = 17


def output_names(graph) -> list[str]:
    return ["probability", "cam"] + (["embedding"] if getattr(graph, "with_embedding", False) else [])


def export_bytes(graph, size: int) -> bytes:
    """Serialise ``graph`` (an ``ExportGraph`` in eval mode) to ONNX bytes with inputs/outputs named
    as the app expects: ``image`` (N,1,S,S) → ``probability`` (N,), ``cam`` (N,h,w) and, when the graph
    has one, ``embedding`` (N,C)."""
    import onnx
    import torch

    graph = graph.eval()
    names = output_names(graph)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(graph, (torch.zeros(2, 1, size, size),), buf, input_names=["image"],
                          output_names=names,
                          dynamic_axes={"image": {0: "N"}, **{n: {0: "N"} for n in names}},
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    model.producer_name = "fracture-triage core.training"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def half_initializers(onnx_bytes: bytes, min_elements: int = 20_000) -> bytes:
    """Store the graph's float32 weights of at least ``min_elements`` values as float16 in the file (the
    big 1×1 convolutions hold most of the bytes; the small depthwise, stem and bias tensors, where
    rounding moved the outputs most, stay float32), each
    cast back to float32 by a ``Cast`` node that onnxruntime folds when it loads the model: the file is
    about half the size and inference runs in float32 as before, on weights rounded to float16 (the
    training run measures what that changes: ``storage_difference``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements:
            continue
        arr = numpy_helper.to_array(init)
        half = numpy_helper.from_array(arr.astype(np.float16), f"{init.name}__fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=f"{init.name}__to_float"))
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def storage_difference(full: bytes, half: bytes, batch: np.ndarray) -> float:
    """Largest absolute difference of the probability and the heatmap (both in [0, 1]) between the float32
    file and its float16-stored copy."""
    a = run_onnx(full, batch, chunk=len(batch))
    b = run_onnx(half, batch, chunk=len(batch))
    return float(max(np.abs(x - y).max() for x, y in zip(a, b)))


def session(onnx_bytes: bytes, threads: int = 2):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # the exact int8 kernels on AVX2 CPUs without VNNI, as the app asks (core.model.runtime.session_options):
    # an int8 graph's out-of-fold predictions are then the ones the app computes on any x86 CPU
    so.add_session_config_entry("session.x64quantprecision", "1")
    return ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])


def run_onnx(onnx_bytes_or_session, batch: np.ndarray, chunk: int = 8, *, embedding: bool = False):
    """(probability (N,), cam (N,h,w)) for a float32 batch (N,1,S,S), run in chunks; with
    ``embedding`` also the (N,C) embedding (the model must have that output)."""
    sess = onnx_bytes_or_session if hasattr(onnx_bytes_or_session, "run") else session(onnx_bytes_or_session)
    names = ["probability", "cam"] + (["embedding"] if embedding else [])
    outs: list[list[np.ndarray]] = [[] for _ in names]
    for s in range(0, len(batch), chunk):
        res = sess.run(names, {"image": np.ascontiguousarray(batch[s:s + chunk], np.float32)})
        for acc, r in zip(outs, res):
            acc.append(r)
    return tuple(np.concatenate(o) for o in outs)


def parity(graph, onnx_bytes: bytes, batch: np.ndarray) -> float:
    """Largest absolute difference between torch and ONNX outputs (probability and cam) on ``batch``."""
    import torch

    with torch.no_grad():
        t_out = graph.eval()(torch.from_numpy(np.ascontiguousarray(batch, np.float32)))
    o_out = run_onnx(onnx_bytes, batch, chunk=len(batch), embedding=len(t_out) > 2)
    return float(max(np.abs(t.numpy() - o).max() for t, o in zip(t_out, o_out)))


def measure_ms_per_image(onnx_bytes: bytes, size: int, *, batch: int = 8, threads: int = 2, repeats: int = 20) -> dict:
    """Median wall time per image of onnxruntime inference at ``batch`` on ``threads`` threads."""
    sess = session(onnx_bytes, threads)
    x = np.random.default_rng(0).random((batch, 1, size, size), dtype=np.float32)
    for _ in range(3):
        sess.run(None, {"image": x})
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, {"image": x})
        times.append(time.perf_counter() - t0)
    return {"ms_per_image": round(1000 * float(np.median(times)) / batch, 3),
            "ms_per_image_best": round(1000 * float(np.min(times)) / batch, 3),
            "batch": batch, "threads": threads, "repeats": repeats}
