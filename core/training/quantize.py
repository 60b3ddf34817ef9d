"""Post-training int8 quantization of the exported graph, and its out-of-fold evaluation.

Owns how a float ONNX graph becomes the int8 one that ships (onnxruntime static quantization, QDQ format,
per-channel int8 convolution weights, uint8 activations calibrated by min/max on a seeded sample of the
training images, each convolution's ReLU6 quantized with it) and which convolutions stay float: the stem
and the first ``float_blocks`` trunk blocks, where the 128- and 64-pixel activation maps lost most in 8
bits (measured on 3.1.0: with only the stem kept float the rank correlation with the float graph was 0.95,
with the first five blocks too 0.993).

It also owns the int8 graph's out-of-fold predictions: for every fold the tops trained in that fold's
cross-validation (``recipe.fold_net``) are exported, quantized on that fold's training images only, and
run on its held-out images, so thresholds, calibration, metrics and the scope gate come from the graph
that ships, never from the float one. Per-fold results are kept (resumable).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_FLOAT_BLOCKS = 3  # chosen out of fold against 5 (MODEL_CARD.md, 3.2.0)
CALIBRATION_IMAGES = 64
CALIBRATION_BATCH = 8


class QuantizeError(RuntimeError):
    """The int8 graph cannot be made or evaluated (clear message for the CLI)."""


def float_nodes(model, float_blocks: int) -> list[str]:
    """Names of the Conv nodes kept in float: the stem and trunk blocks 0..float_blocks-1."""
    pattern = re.compile(r"(^|/)(stem|trunk\.(\d+))/")
    keep = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        m = pattern.search(node.name)
        if m and (m.group(2) == "stem" or int(m.group(3)) < float_blocks):
            keep.append(node.name)
    return keep


def quantize_bytes(float_bytes: bytes, calibration: np.ndarray, *, float_blocks: int = DEFAULT_FLOAT_BLOCKS) -> bytes:
    """The int8 graph of ``float_bytes`` (float32 weights), its activation ranges taken from
    ``calibration`` (N,1,S,S float32 in [0,1], the training images)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = [{"image": np.ascontiguousarray(calibration[s:s + CALIBRATION_BATCH], np.float32)}
               for s in range(0, len(calibration), CALIBRATION_BATCH)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    with tempfile.TemporaryDirectory(prefix="ft-quant-") as tmp:
        src, pre, out = Path(tmp) / "float.onnx", Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(float_bytes)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
        keep = float_nodes(onnx.load(str(pre)), float_blocks)
        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "Clip", "Relu"], nodes_to_exclude=keep,
                        calibrate_method=CalibrationMethod.MinMax)
        model = onnx.load(str(out))
    unshare_weight_dequantizers(model)
    model.producer_name = "fracture-triage core.training (int8)"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def unshare_weight_dequantizers(model) -> int:
    """Give every consumer of an int8 weight its own DequantizeLinear and its own copy of the weight and
    zero point (in place; returns how many were added). A weight used twice (the flip TTA runs the
    convolutions twice) has one DequantizeLinear feeding two convolutions; onnxruntime splits it into two
    that share the initializers, and with the exact int8 kernels (``session.x64quantprecision``) its
    int8-to-uint8 weight conversion then adds the same converted initializer twice and the session does
    not load ("Attempt to replace the existing tensor", onnxruntime 1.32)."""
    import onnx

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in dict.fromkeys(node.input):  # a node reading one value twice is one consumer
            consumers.setdefault(name, []).append(node)
    added = 0
    nodes = list(graph.node)
    del graph.node[:]
    for node in nodes:
        graph.node.append(node)
        users = consumers.get(node.output[0], []) if node.op_type == "DequantizeLinear" else []
        if len(users) < 2 or node.input[0] not in inits or inits[node.input[0]].data_type != onnx.TensorProto.INT8:
            continue
        for k, user in enumerate(users[1:], start=1):
            inputs = list(node.input)
            for j in (0, 2):
                if j < len(inputs) and inputs[j] in inits:
                    copy = onnx.TensorProto()
                    copy.CopyFrom(inits[inputs[j]])
                    copy.name = f"{inputs[j]}__use{k}"
                    graph.initializer.append(copy)
                    inputs[j] = copy.name
            out = f"{node.output[0]}__use{k}"
            graph.node.append(onnx.helper.make_node("DequantizeLinear", inputs, [out], name=f"{node.name}__use{k}",
                                                    **{a.name: onnx.helper.get_attribute_value(a)
                                                       for a in node.attribute}))
            for i, name in enumerate(user.input):
                if name == node.output[0]:
                    user.input[i] = out
            added += 1
    return added


def calibration_sample(n_images: int, seed: int, count: int = CALIBRATION_IMAGES) -> np.ndarray:
    """Seeded indices of the calibration images among ``n_images`` training images."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_images, size=min(count, n_images), replace=False))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p)).astype(np.float32)


def difference(a_bytes: bytes, b_bytes: bytes, batch: np.ndarray) -> dict:
    """How far graph b's outputs are from graph a's on ``batch``: largest probability and heatmap
    difference, mean absolute logit difference, Spearman rank correlation of the probabilities."""
    from core.training.export_onnx import run_onnx

    a, b = run_onnx(a_bytes, batch), run_onnx(b_bytes, batch)
    ra, rb = np.argsort(np.argsort(a[0])), np.argsort(np.argsort(b[0]))
    rho = float(np.corrcoef(ra, rb)[0, 1]) if len(batch) > 2 else 1.0
    return {"images": int(len(batch)), "probability_max_abs_diff": round(float(np.abs(a[0] - b[0]).max()), 4),
            "cam_max_abs_diff": round(float(np.abs(a[1] - b[1]).max()), 4),
            "logit_mean_abs_diff": round(float(np.abs(logit(a[0]) - logit(b[0])).mean()), 4),
            "spearman": round(rho, 5)}


def embeddings(graph, images: np.ndarray, idx: np.ndarray, chunk: int = 256) -> np.ndarray:
    """The graph's embeddings of cached images ``idx``, converted to float a chunk at a time (the whole
    training set as float32 would be several hundred MB)."""
    from core.training.export_onnx import run_onnx
    from core.training.loop import to_float

    return np.concatenate([run_onnx(graph, to_float(images, idx[s:s + chunk]).numpy(), embedding=True)[2]
                           for s in range(0, len(idx), chunk)])


def _net_of_fold(recipe, folders: list[Path], f: int):
    from core.training.recipe import fold_net

    nets = [fold_net(recipe.member(m) if recipe.tops > 1 else recipe, folder, f) for m, folder in enumerate(folders)]
    if any(n is None for n in nets):
        raise QuantizeError(f"fold {f + 1}'s trained weights were not kept in {folders[0].parent} (its cross-"
                            "validation ran before they were): run it again with a fresh --workdir")
    if len(nets) == 1:
        return nets[0]
    from core.training.lite import Lite0Ensemble

    return Lite0Ensemble(nets).eval()


def int8_oof(listing, images: np.ndarray, recipe, fold: np.ndarray, folders: list[Path], *, tta: bool,
             float_blocks: int = DEFAULT_FLOAT_BLOCKS, workdir: Path, seed: int = 0, log=print):
    """``recipe.OOF`` of the int8 graph: per fold, that fold's tops exported (uncalibrated: temperature 1,
    no prior shift, so the probability is the sigmoid of the raw logit), quantized on a sample of that
    fold's training images, run on its held-out images (logits, heatmaps, embeddings) and on its training
    images (embeddings, for the scope gate). ``folders``: each top's cross-validation folder."""
    import onnxruntime

    from core.training.export_onnx import export_bytes, run_onnx, session
    from core.training.loop import to_float
    from core.training.nets import ExportGraph
    from core.training.recipe import OOF

    key = hashlib.sha256(json.dumps([[Path(f).name for f in folders], float_blocks, CALIBRATION_IMAGES, seed, tta,
                                     onnxruntime.__version__], sort_keys=True).encode()).hexdigest()[:12]
    out = Path(workdir) / f"int8-{key}"
    out.mkdir(parents=True, exist_ok=True)
    n = len(listing)
    logits = np.full(n, np.nan, np.float32)
    cams = emb = None
    train_emb: list[np.ndarray] = []
    seconds = 0.0
    for f in np.unique(fold):
        path = out / f"fold{int(f)}.npz"
        if path.is_file():
            log(f"  int8 fold {int(f) + 1}: reusing {path}")
        else:
            t0 = time.time()
            tr, va = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            graph = ExportGraph(_net_of_fold(recipe, folders, int(f)), tta=tta, with_embedding=True).eval()
            calib = tr[calibration_sample(len(tr), seed + int(f))]
            q = quantize_bytes(export_bytes(graph, recipe.size), to_float(images, calib).numpy(),
                               float_blocks=float_blocks)
            sess = session(q)
            pv, cv, ev = run_onnx(sess, to_float(images, va).numpy(), embedding=True)
            et = embeddings(sess, images, tr)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, idx=va, logits=logit(pv), cams=logit(cv), emb=ev, train_emb=et, seconds=time.time() - t0)
            tmp.replace(path)
            log(f"  int8 fold {int(f) + 1}: quantized on {len(calib)} of its training images, "
                f"{len(va)} held out ({time.time() - t0:.0f} s)")
        z = np.load(path)
        idx = z["idx"]
        logits[idx] = z["logits"]
        if cams is None:
            cams = np.full((n,) + z["cams"].shape[1:], np.nan, np.float32)
            emb = np.full((n, z["emb"].shape[1]), np.nan, np.float32)
        cams[idx], emb[idx] = z["cams"], z["emb"]
        train_emb.append(z["train_emb"].astype(np.float32))
        seconds += float(z["seconds"])
    if np.isnan(logits).any():
        raise QuantizeError("the int8 out-of-fold predictions do not cover every image")
    # the graph's own output either way: flip TTA, when chosen, is inside the quantized graph
    return OOF(logits, logits, fold, seconds, logits, cams, emb, train_emb, emb, train_emb)


def oof_summary(y, raw: np.ndarray, shift: float, fold, groups, meta) -> dict:
    """The headline out-of-fold figures of one set of raw logits (calibrated as the card calibrates),
    to set the float graph beside the int8 one in the card."""
    from core.evaluation import metrics as M
    from core.training import report

    cal = report.calibration(y, raw, shift, fold)
    mm = report.model_metrics(y, M.sigmoid((raw - shift) / cal["temperature"]), groups, meta)
    sub = mm.get("subgroups", {})
    return {"roc_auc": mm["roc_auc"]["value"], "average_precision": mm["average_precision"]["value"],
            "specificity_at_95_sensitivity": mm["specificity_at_95_sensitivity"]["value"],
            "suspicious_flagged_share": mm["suspicious"]["flagged_share"],
            **{f"{k}_roc_auc": sub[k]["roc_auc"]["value"] for k in ("hand", "leg", "hip", "shoulder", "no_hardware")
               if k in sub and isinstance(sub[k].get("roc_auc"), dict)}}


def ship(full_bytes: bytes, images: np.ndarray, *, float_blocks: int, seed: int, log=print):
    """(the final int8 graph made from the final float graph, calibrated on a sample of all training
    images; what it changes on other training images (``difference``), for the card; its embeddings of
    every training image, for the scope gate)."""
    from core.training.export_onnx import session
    from core.training.loop import to_float

    calib = calibration_sample(len(images), seed)
    q = quantize_bytes(full_bytes, to_float(images, calib).numpy(), float_blocks=float_blocks)
    rest = np.setdiff1d(np.arange(len(images)), calib)[:256]
    held = len(rest) > 0
    diff = difference(full_bytes, q, to_float(images, rest if held else calib).numpy())
    diff["calibration_images_excluded"] = held  # False only for data no larger than the calibration sample
    log(f"int8 graph: {len(q) / 1e6:.1f} MB; against the float graph on {diff['images']} other training images: "
        f"rank correlation {diff['spearman']}, probability within {diff['probability_max_abs_diff']}")
    return q, {"scheme": SCHEME.format(k=float_blocks), "float_blocks": float_blocks,
               "calibration_images": int(len(calib)), "against_float_graph": diff}, \
        embeddings(session(q), images, np.arange(len(images)))


SCHEME = ("onnxruntime static quantization, QDQ: int8 per-channel weights and uint8 activations (min/max over "
          "64 training images) for every convolution and its ReLU6 after the stem and the first {k} trunk blocks, "
          "which stay float32")


def evaluate_int8(listing, images, recipe, oof, *, folds: int, split_seed: int, tta: bool, shift: float, workdir,
                  init_state=None, init_key: str = "", float_blocks: int | None = None, seed: int = 0, log=print):
    """(the int8 graph's out-of-fold predictions, the card's quantization section so far): what every
    later step of training (calibration, thresholds, metrics, scope gate) uses instead of the float graph's
    ``oof``; both graphs' headline figures, calibrated alike, go into the section."""
    from core.training.recipe import cv_folders

    blocks = DEFAULT_FLOAT_BLOCKS if float_blocks is None else int(float_blocks)
    folders = cv_folders(listing, recipe, folds=folds, split_seed=split_seed, workdir=workdir,
                         init_state=init_state, init_key=init_key)
    q = int8_oof(listing, images, recipe, oof.fold, folders, tta=tta, float_blocks=blocks, workdir=workdir,
                 seed=seed, log=log)
    y, groups, meta = listing.labels, listing.groups, listing.meta or None
    f_sum = oof_summary(y, oof.scores(tta), shift, oof.fold, groups, meta)
    q_sum = oof_summary(y, q.scores(tta), shift, q.fold, groups, meta)
    log(f"out-of-fold AUC: float graph {f_sum['roc_auc']}, int8 graph {q_sum['roc_auc']} "
        f"(spec@95sens {f_sum['specificity_at_95_sensitivity']} → {q_sum['specificity_at_95_sensitivity']})")
    return q, {"float_blocks": blocks, "out_of_fold_float_graph": f_sum, "out_of_fold_int8_graph": q_sum}
