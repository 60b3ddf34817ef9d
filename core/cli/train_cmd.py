"""The ``train``, ``evaluate`` and ``card`` subcommands (developer/clinic retraining; torch needed for ``train``).

    fracture-triage train --data DIR [--data DIR2 ...] [--init MODEL.onnx|CHECKPOINT.pt] --out DIR
                          [--epochs N] [--cv-folds K]
    fracture-triage evaluate --model MODEL.onnx --data DIR [--out DIR]
    fracture-triage card CARD.json [--compare EARLIER.json ...] [--note TEXT ...]

DIR is a FracAtlas folder (dataset.csv + images/) or an app export in ImageFolder layout
(fracture/, no_fracture/; doubt/ ignored). All work happens in ``core.training.pipeline``.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("train", help="cross-validate and train the fracture model, write ONNX + card",
                       description="Cross-validate the training recipe on the labelled data (grouped, stratified), "
                       "then train on all of it and write <name>-<version>.onnx, its card (.json), the torch "
                       "checkpoint (.pt), MODEL_CARD.md and plots into --out. Needs PyTorch (extra 'train').")
    p.add_argument("--data", type=Path, action="append", required=True, metavar="DIR",
                   help="FracAtlas folder or export folder (fracture/, no_fracture/); repeat to mix")
    p.add_argument("--init", type=Path, metavar="MODEL", help="fine-tune from a shipped .onnx (its .pt beside it) or a .pt")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the model files are written")
    p.add_argument("--epochs", type=int, metavar="N", help="training epochs (default: the recipe's: 6 for lite0, 18 for triagenet)")
    p.add_argument("--cv-folds", type=int, default=5, metavar="K", help="cross-validation folds (default 5, at least 2)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: lite0 1e-3, its fine-tuned top blocks "
                   "x0.3; triagenet 3e-3; with --init a fifth of that)")
    p.add_argument("--name", default="triagenet", help="model name (default triagenet)")
    p.add_argument("--version", help="model version (default local-YYYYMMDD-HHMM)")
    p.add_argument("--size", type=int, choices=range(64, 513, 32), metavar="PX",
                   help="input size, a multiple of 32 (default 256)")
    p.add_argument("--cache", type=Path, default=Path("training-cache"), metavar="DIR",
                   help="decoded-image cache (default ./training-cache)")
    p.add_argument("--workdir", type=Path, metavar="DIR", help="out-of-fold results, resumable (default OUT/runs)")
    p.add_argument("--seed-baseline", action="store_true",
                   help="also cross-validate the seed's published architecture as a baseline")
    p.add_argument("--seed-baseline-epochs", type=int, default=10, metavar="N", help="its epochs (default 10)")
    p.add_argument("--tta", choices=("auto", "on", "off"), default="auto",
                   help="flip test-time augmentation: auto = only if it raises out-of-fold AUC")
    p.add_argument("--backbone", choices=("lite0", "triagenet"),
                   help="lite0 (default, 3.0.0: ImageNet EfficientNet-Lite0, trunk frozen to stride 16, features "
                   "cached; needs the train extra's weights) or triagenet (2.0.0's small network trained from scratch)")
    p.add_argument("--head", choices=("map16", "gap"),
                   help="TriageNet's head: map16 (2.0.0: stride-16 map, log-sum-exp pooling, per-cell loss from "
                   "the fracture boxes) or gap (1.0.0's: global average pooling, image labels only)")
    p.add_argument("--box-weight", type=float, metavar="W",
                   help="weight of the per-cell loss from fracture boxes (map16 head; default 1.0, 0 = image labels only)")
    p.add_argument("--trunk-versions", type=int, metavar="N",
                   help="lite0: how many versions of each image the frozen trunk's cache holds (the image, its flip "
                   "and N-2 augmentations; default 4); a cache with fewer is extended, not recomputed")
    p.add_argument("--trunk-blocks", type=int, metavar="N",
                   help="lite0: the frozen trunk is the stem and Lite0's first N blocks, the rest fine-tuned (6-11, "
                   "all ending at stride 16; default 11: the 112-channel stage frozen too; 8 fine-tunes it)")
    p.add_argument("--tops", type=int, metavar="N",
                   help="lite0: N tops (the fine-tuned blocks and head, trained with seeds S..S+N-1) on the one "
                   "frozen trunk, their image logits averaged inside the model (default 1)")
    p.add_argument("--lse-r", type=float, metavar="R",
                   help="map16 head: sharpness of the log-sum-exp pooling of the cells into the image logit (default "
                   "4; larger is nearer the maximum, smaller nearer the mean)")
    p.add_argument("--head-width", type=int, metavar="C", help="map16 head: its channels (default 64)")
    p.add_argument("--ema", type=float, metavar="DECAY",
                   help="keep the exponential moving average of the weights over the training steps (decay per "
                   "step, e.g. 0.99; default: off, the last step's weights)")
    p.add_argument("--cv-only", action="store_true",
                   help="stop after the cross-validation: its out-of-fold figures are logged and written to "
                   "OUT/NAME-VERSION-cv.json (which --compare accepts), no model is trained")
    p.add_argument("--quantize", choices=("off", "int8"), default="off",
                   help="int8: ship the graph quantized to int8 (about 0.6x the float inference time on 2 cores); "
                   "every fold's graph is quantized and evaluated out of fold, so the card's figures are the int8 "
                   "graph's (default off: float32, weights stored as float16)")
    p.add_argument("--float-blocks", type=int, metavar="N",
                   help="int8: trunk blocks kept in float after the stem (default 3; 0 quantizes all but the stem)")
    p.add_argument("--compare", type=Path, action="append", default=[], metavar="CARD.json",
                   help="an earlier model's card to list beside this one in the comparison table (repeatable)")
    p.add_argument("--baseline-from", type=Path, metavar="CARD.json",
                   help="take the seed-CNN baseline from an earlier card cross-validated on the same data and folds "
                   "(checked) instead of re-running it")
    p.add_argument("--note", action="append", default=[], metavar="TEXT", help="'what was tried' line for the card")
    p.set_defaults(func=_train)

    e = sub.add_parser("evaluate", help="metrics and plots of a model on a labelled folder",
                       description="Score a labelled folder with a model (.onnx + card) and report ROC-AUC, AP, "
                       "operating points at the card's thresholds, calibration and plots.")
    e.add_argument("--model", type=Path, required=True, metavar="MODEL.onnx")
    e.add_argument("--data", type=Path, action="append", required=True, metavar="DIR")
    e.add_argument("--out", type=Path, default=Path("evaluation"), metavar="DIR",
                   help="where evaluation.json, predictions.csv and plots go (default ./evaluation)")
    e.add_argument("--cache", type=Path, metavar="DIR", help="decoded-image cache (default: none)")
    e.set_defaults(func=_evaluate)

    c = sub.add_parser("card", help="carry earlier models' figures and 'what was tried' into a model card",
                       description="Add to CARD.json the comparison rows of earlier models (their cards, and the rows "
                       "those cards carry) and 'what was tried' lines, then render MODEL_CARD.md beside it again. "
                       "The model file and its sha256 are not touched; `train --compare` does the same for a new model.")
    c.add_argument("card", type=Path, metavar="CARD.json")
    c.add_argument("--compare", type=Path, action="append", default=[], metavar="EARLIER.json",
                   help="an earlier model's card (repeatable; oldest first)")
    c.add_argument("--note", action="append", default=[], metavar="TEXT", help="a 'what was tried' line (repeatable)")
    c.set_defaults(func=_card)


def _train(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.training import TORCH_MISSING, torch_available

    if not torch_available():
        raise CliError(TORCH_MISSING)
    from core.training.pipeline import TrainError, TrainOptions, train

    opts = TrainOptions(data=args.data, out=args.out, init=args.init, epochs=args.epochs, cv_folds=args.cv_folds,
                        seed=args.seed, lr=args.lr, name=args.name, version=args.version, size=args.size,
                        cache=args.cache, workdir=args.workdir, seed_baseline=args.seed_baseline,
                        seed_baseline_epochs=args.seed_baseline_epochs, tta=args.tta,
                        backbone=args.backbone, head=args.head, box_weight=args.box_weight, trunk_versions=args.trunk_versions,
                        trunk_blocks=args.trunk_blocks, tops=args.tops,
                        compare=args.compare,
                        baseline_from=args.baseline_from,
                        notes=args.note, command=_command(args), quantize=args.quantize,
                        float_blocks=args.float_blocks, lse_r=args.lse_r, head_width=args.head_width,
                        ema=args.ema, cv_only=args.cv_only)
    try:
        path = train(opts)
    except TrainError as exc:
        raise CliError(str(exc)) from exc
    print(f"{'cross-validation' if args.cv_only else 'model'}: {path}")
    return 0


def _command(args: argparse.Namespace) -> str:
    import sys

    return "fracture-triage " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if len(sys.argv) > 1 else "fracture-triage train"


def _card(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.training.card import CardError, amend

    try:
        md = amend(args.card, args.compare, args.note)
    except (CardError, OSError) as exc:
        raise CliError(str(exc)) from exc
    print(f"updated {args.card} and {md}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from core.cli import CliError
    from core.training.pipeline import TrainError, evaluate

    try:
        res = evaluate(args.model, args.data, args.out, cache=args.cache)
    except TrainError as exc:
        raise CliError(str(exc)) from exc
    auc, ap = res["roc_auc"], res["average_precision"]
    print(f"{res['model']} on {res['images']} images ({res['fractured']} fractured, {res['excluded']} unreadable):")
    print(f"  ROC-AUC {auc['value']} (95% CI {auc['ci95'][0]}–{auc['ci95'][1]}), AP {ap['value']}")
    for name in ("suspicious", "definite"):
        if name in res:
            r = res[name]
            print(f"  {name} (p ≥ {r['threshold']:.4f}): sensitivity {r['sensitivity']['value']}, "
                  f"specificity {r['specificity']['value']}")
    print(f"  Brier {res['calibration']['brier']}, ECE {res['calibration']['ece']}")
    print(f"  written: {args.out / 'evaluation.json'}, predictions.csv, plots")
    return 0
