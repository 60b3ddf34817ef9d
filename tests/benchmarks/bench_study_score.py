"""Study score evidence (a script, not a test): the highest view score (``max``, the default) against
noisy-OR (and the mean, as a reference) on FracAtlas, from OUT-OF-FOLD model scores.

FracAtlas has no study or patient identifiers. Its README says consecutive image ids are often several
views of one patient, so two proxies for a study are measured:

* ``run``: a run of consecutive image ids inside one block of ten with the same body-region and
  hardware columns (hand/leg/hip/shoulder/mixed/hardware), at most four images (a radiograph study
  rarely has more views);
* ``block``: the block of ten consecutive ids (``id // 10``), the training's CV group.

A proxy study is fractured when any of its images is. Per method: study ROC-AUC (95% interval from
1000 bootstrap resamples of studies), the paired difference to ``max``, and the sensitivity,
specificity and flagged share at the model card's suspicious and definite thresholds (set on single
images). The scores are the cross-validated predictions of the training run (``fold*.npz`` of its work
folder: each image scored by the fold model that did not see it), calibrated with the card's prior
shift and temperature, so the figures are not those of a model that saw the images.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_study_score.py --folds WORKDIR/triagenet-<key> \\
        [--card resources/models/triagenet-2.0.0.json] [--data ../shared/data/fracatlas]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.evaluation import metrics as M  # noqa: E402
from core.studies import study_score  # noqa: E402

REGIONS = ("hand", "leg", "hip", "shoulder", "mixed", "hardware")
MAX_RUN = 4


def load(data: Path, folds: Path, card: dict):
    with open(data / "dataset.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if (data / "images" / r["image_id"]).is_file()]
    logits = np.full(len(rows), np.nan)
    for f in sorted(folds.glob("fold*.npz")):
        z = np.load(f)
        logits[z["idx"]] = z["tta"] if card["evaluation"]["calibration"].get("tta") else z["logits"]
    if np.isnan(logits).any():
        raise SystemExit(f"{int(np.isnan(logits).sum())} images have no out-of-fold score in {folds}")
    cal = card["evaluation"]["calibration"]
    p = M.sigmoid((logits - cal["prior_shift"]) / cal["temperature"])
    return rows, np.asarray([int(r["fractured"]) for r in rows]), p


def proxy_studies(rows, how: str) -> np.ndarray:
    ids = [int(r["image_id"][3:10]) for r in rows]
    if how == "block":
        return np.asarray([i // 10 for i in ids])
    out, current, prev, length = [], -1, None, 0
    for r, i in zip(rows, ids):
        key = (i // 10, tuple(r[c] for c in REGIONS))
        joins = prev is not None and prev == (key, i - 1) and length < MAX_RUN
        current, length = (current, length + 1) if joins else (current + 1, 1)
        out.append(current)
        prev = (key, i)
    return np.asarray(out)


def study_arrays(y, p, groups, method: str):
    keys = np.unique(groups)
    ys = np.asarray([int(y[groups == k].max()) for k in keys])
    if method == "mean":
        ps = np.asarray([float(p[groups == k].mean()) for k in keys])
    else:
        ps = np.asarray([study_score(p[groups == k].tolist(), method) for k in keys])
    return ys, ps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", required=True, type=Path, help="training work folder with fold*.npz")
    ap.add_argument("--card", type=Path, default=ROOT / "resources" / "models" / "triagenet-2.0.0.json")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fracatlas")
    args = ap.parse_args(argv)
    if not (args.data / "dataset.csv").is_file():
        print(f"no FracAtlas at {args.data}", file=sys.stderr)
        return 2
    card = json.loads(args.card.read_text(encoding="utf-8"))
    rows, y, p = load(args.data, args.folds, card)
    t = card["thresholds"]
    print(f"{len(rows)} images ({int(y.sum())} fractured); image ROC-AUC {M.roc_auc(y, p):.4f}; "
          f"thresholds suspicious {t['suspicious']:.4f}, definite {t['definite']:.4f} ({card['version']})")
    for how in ("run", "block"):
        groups = proxy_studies(rows, how)
        sizes = np.bincount(np.unique(groups, return_inverse=True)[1])
        base_y, base_p = study_arrays(y, p, groups, "max")
        print(f"\nproxy '{how}': {len(sizes)} studies ({int(base_y.sum())} fractured), "
              f"{(sizes > 1).sum()} with 2+ images, mean {sizes.mean():.2f} images")
        print(f"  {'method':9} {'AUC [95% CI]':>24} {'ΔAUC vs max [95% CI]':>28}  "
              f"{'susp sens/spec/flagged':>24}  {'def sens/spec/flagged':>24}")
        keys = np.arange(len(base_y))
        for method in ("max", "noisy_or", "mean"):
            ys, ps = study_arrays(y, p, groups, method)
            auc, lo, hi = M.bootstrap_ci(M.roc_auc, ys, ps, keys, n=1000, seed=0)
            d, dlo, dhi = M.paired_bootstrap_ci(M.roc_auc, ys, ps, base_p, keys, n=1000, seed=0)
            cells = []
            for name in ("suspicious", "definite"):
                a = M.at_threshold(ys, ps, t[name])
                cells.append(f"{a['sensitivity']:.3f}/{a['specificity']:.3f}/{a['flagged_share']:.3f}")
            print(f"  {method:9} {auc:.4f} [{lo:.4f}, {hi:.4f}]   {d:+.4f} [{dlo:+.4f}, {dhi:+.4f}]  "
                  f"{cells[0]:>24}  {cells[1]:>24}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
