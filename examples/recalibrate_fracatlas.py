"""Demonstration of the clinic's own loop on the FracAtlas developer images (README, "The clinic's own
loop"): the images are split by id blocks (image number // 10; even blocks "already reviewed", odd
blocks "new"), everything is scanned with the default model, the FracAtlas labels of the reviewed half
are imported as a clinic's decisions, ``calibrate --apply`` refits the thresholds on them, and the
sensitivity at the card's and at the new 'suspicious' threshold is printed for the NEW half, which the
calibration never saw (with 95% intervals from resampling whole id blocks).

    python examples/recalibrate_fracatlas.py [FRACATLAS_FOLDER]   (default ../shared/data/fracatlas)

Runs in a temporary app home (its own database and settings); nothing of the user's is touched. It
uses the real subcommands (``scan``, ``import-labels``, ``calibrate``, ``performance``) in-process.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else ROOT.parent / "shared" / "data" / "fracatlas"
    table = folder / "dataset.csv"
    images = folder / "images"
    if not table.is_file() or not images.is_dir():
        print(f"no FracAtlas folder at {folder} (expected dataset.csv and images/)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="recalibrate-demo-") as tmp:
        os.environ["FRACTURE_TRIAGE_HOME"] = str(Path(tmp) / "home")
        import numpy as np

        from core.cli import main as cli
        from core.evaluation import metrics as M
        from core.evaluation.calibration import active_thresholds
        from core.model import load_verified_card
        from core.model.registry import Registry
        from core.store import open_store

        db = f"sqlite:///{Path(tmp) / 'clinic.sqlite3'}"
        rows = list(csv.DictReader(table.open(encoding="utf-8")))
        label = {r["image_id"]: int(r["fractured"]) for r in rows}
        block = {r["image_id"]: int(r["image_id"][3:].split(".")[0]) // 10 for r in rows}
        reviewed = {n for n in label if block[n] % 2 == 0}
        labels_csv = Path(tmp) / "reviewed_labels.csv"
        with labels_csv.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["path", "label"])
            for n in sorted(reviewed):
                w.writerow([n, "fracture" if label[n] else "no_fracture"])

        card = load_verified_card(Registry().resolve().path)
        print(f"== model: {card.name} {card.version} (the default when this ran); card thresholds: "
              f"suspicious >= {card.thresholds.suspicious:g}, definite >= {card.thresholds.definite:g}")
        scan_csv = Path(tmp) / "scan.csv"
        print(f"== fracture-triage scan {images} ({len(label)} images)")
        if cli(["scan", str(images), "--db", db, "--csv", str(scan_csv)]) != 0:
            return 1
        print(f"== fracture-triage import-labels (the {len(reviewed)} images of the even id blocks)")
        if cli(["import-labels", "--db", db, "--reviewer", "demo", str(labels_csv)]) != 0:
            return 1
        print("== fracture-triage calibrate --apply --by demo")
        if cli(["calibrate", "--db", db, "--apply", "--by", "demo"]) != 0:
            return 1
        print("== fracture-triage performance (on the reviewed half, at the new thresholds)")
        cli(["performance", "--db", db])

        store = open_store(db, backups_keep=0)
        try:
            active = active_thresholds(store, card)
        finally:
            store.close()
        prob = {Path(r["path"]).name: float(r["probability"])
                for r in csv.DictReader(scan_csv.open(encoding="utf-8")) if r["probability"]}
        new = sorted(n for n in label if n not in reviewed and n in prob)
        y = np.array([label[n] for n in new])
        p = np.array([prob[n] for n in new])
        g = np.array([block[n] for n in new])
        print(f"== the NEW half: {len(new)} images ({int(y.sum())} fractures) the calibration never saw")
        for name, t in (("card", card.thresholds.suspicious), ("calibrated", active.thresholds.suspicious)):
            sens = lambda yy, pp, t=t: M.at_threshold(yy, pp, t)["sensitivity"]  # noqa: E731
            spec = lambda yy, pp, t=t: M.at_threshold(yy, pp, t)["specificity"]  # noqa: E731
            s, s_lo, s_hi = M.bootstrap_ci(sens, y, p, g)
            c, c_lo, c_hi = M.bootstrap_ci(spec, y, p, g)
            share = float(np.mean(p >= t))
            print(f"   {name:<10} suspicious >= {t:.6g}: sensitivity {s:.1%} (95% CI {s_lo:.1%}-{s_hi:.1%}), "
                  f"specificity {c:.1%} (95% CI {c_lo:.1%}-{c_hi:.1%}), flags {share:.1%} of the new images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
