"""Shadow test of a candidate model on the clinic's confirmed labels, without touching the worklist.

``score_labelled``: every image with a confirmed label is scored by the candidate through the scan
pipeline (``core.scan.scan`` with an explicit file list: each file read once, hashed, decoded, batched),
at its most recently seen location. A file no longer there, or whose bytes changed (another image
now), or unreadable, is counted and skipped. Scores the candidate already has in the database are
reused; new ones are stored under the candidate's version (so switching later needs no re-scan).

``compare``: both models side by side on the same images (those with a score of each): AUC with the
paired bootstrap interval of the difference (candidate − current), average precision,
sensitivity/specificity at each model's own active thresholds, McNemar's exact test on whether each
model's flag was right, and the images on which they disagree most (largest gap in rank).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from core.evaluation import labelled as L
from core.evaluation import metrics as M
from core.evaluation.calibration import active_thresholds

if TYPE_CHECKING:  # pragma: no cover
    from core.model.runtime import Model
    from core.scan import ScanProgress
    from core.store import Store

N_BOOT = 1000
TOP_DISAGREEMENTS = 20


@dataclass
class Scoring:
    labelled: int = 0  # confirmed fracture/no_fracture labels
    scored: int = 0  # newly scored by the candidate
    reused: int = 0  # the candidate's score was already stored
    missing: int = 0  # no file where the image was last seen
    changed: int = 0  # the file there now holds other bytes
    unreadable: int = 0
    stored: int = 0  # new prediction rows written
    cancelled: bool = False
    problems: list[str] = field(default_factory=list)  # "path: why", first few

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def score_labelled(store: "Store", candidate: "Model", *, cancel: Optional[threading.Event] = None,
                   on_progress: Optional[Callable[["ScanProgress"], None]] = None,
                   workers: Optional[int] = None, batch_size: int = 8) -> Scoring:
    """Score the labelled images with ``candidate`` (see the module docstring)."""
    from core.discovery import FoundFile
    from core.results import ERROR, REUSED, SCORED
    from core.scan import scan

    out = Scoring()
    version = candidate.version
    want: dict[Path, str] = {}
    files: list[FoundFile] = []
    for r in store.labelled_images():
        if r.label not in ("fracture", "no_fracture"):
            continue
        out.labelled += 1
        if r.scores.get(version) is not None:
            out.reused += 1
            continue
        if not r.path:
            out.missing += 1
            continue
        path = Path(r.path)
        try:
            st = os.stat(path)
        except OSError:
            out.missing += 1
            _note(out, path, "no longer there")
            continue
        want[path] = r.image_id
        files.append(FoundFile(path, st.st_size, st.st_mtime_ns))
    if not files:
        return out
    new: dict[str, float] = {}
    lock = threading.Lock()

    def on_item(item) -> None:
        expected = want.get(Path(item.path))
        with lock:
            if item.status == ERROR:
                if item.image_id is not None and item.image_id != expected:
                    out.changed += 1
                    _note(out, item.path, "now holds a different image")
                else:
                    out.unreadable += 1
                    _note(out, item.path, item.error or "could not be read")
            elif item.image_id != expected:
                out.changed += 1
                _note(out, item.path, "now holds a different image")
            elif item.status in (SCORED, REUSED) and item.probability is not None:
                new[expected] = float(item.probability)
                out.scored += 1

    summary = scan(files[0].path.parent, candidate, on_item=on_item,
                   on_progress=on_progress, cancel=cancel, workers=workers, batch_size=batch_size, files=files)
    out.cancelled = summary.cancelled
    if new:
        out.stored = store.record_predictions(version, new)
    return out


def _note(out: Scoring, path, why: str) -> None:
    if len(out.problems) < 10:
        out.problems.append(f"{Path(path).name}: {why}")


def _flags_right(y: np.ndarray, p: np.ndarray, t: float) -> np.ndarray:
    return (p >= t) == (y == 1)


def compare(store: "Store", current_card, candidate_card, *, scoring: Optional[Scoring] = None,
            n_boot: int = N_BOOT, top: int = TOP_DISAGREEMENTS) -> dict:
    """Side-by-side report on the images scored by both versions (see the module docstring)."""
    rows = store.labelled_images()
    a_ver, b_ver = current_card.version, candidate_card.version
    keep = [r for r in rows if r.label in ("fracture", "no_fracture")
            and r.scores.get(a_ver) is not None and r.scores.get(b_ver) is not None]
    # paired: only images both versions rank (either scope gate's "out of scope" leaves an image out)
    gated = [r for r in keep if a_ver in r.out_of_scope or b_ver in r.out_of_scope]
    keep = [r for r in keep if not (a_ver in r.out_of_scope or b_ver in r.out_of_scope)]
    da, db = L.build(keep, a_ver), L.build(keep, b_ver)
    ta, tb = active_thresholds(store, current_card), active_thresholds(store, candidate_card)
    out: dict = {"current": {"name": current_card.name, "version": a_ver, "thresholds": ta.as_dict()},
                 "candidate": {"name": candidate_card.name, "version": b_ver, "thresholds": tb.as_dict()},
                 "scoring": scoring.as_dict() if scoring else None,
                 "counts": {**da.counts(), "out_of_scope_excluded": len(gated)}, "enough_labels": L.enough(da.y)}
    if a_ver == b_ver:
        out["enough_labels"] = False
        out["message"] = f"the candidate has the same version ({a_ver}) as the current model; nothing to compare"
        return out
    if not out["enough_labels"]:
        out["message"] = L.not_enough_message(da.y) + " (scored by both models)"
        return out
    y, g = da.y, da.groups
    pa, pb = da.p, db.p
    for key, p, t in (("current", pa, ta.thresholds), ("candidate", pb, tb.thresholds)):
        side = out[key]
        side["roc_auc"] = M.estimate(M.roc_auc, y, p, g, n=n_boot)
        side["average_precision"] = M.estimate(M.average_precision, y, p, g, n=n_boot)
        for name, thr in (("suspicious", t.suspicious), ("definite", t.definite)):
            pt = M.at_threshold(y, p, thr)
            side[name] = {"threshold": thr, "sensitivity": round(pt["sensitivity"], 4),
                          "specificity": round(pt["specificity"], 4), "flagged_share": round(pt["flagged_share"], 4)}
    d, lo, hi = M.paired_bootstrap_ci(M.roc_auc, y, pb, pa, g, n=n_boot)
    out["auc_difference"] = {"candidate_minus_current": round(d, 4), "ci95": [round(lo, 4), round(hi, 4)],
                             "n_images": int(len(y))}
    mc = {}
    for name in ("suspicious", "definite"):
        ra = _flags_right(y, pa, getattr(ta.thresholds, name))
        rb = _flags_right(y, pb, getattr(tb.thresholds, name))
        only_a, only_b = int((ra & ~rb).sum()), int((~ra & rb).sum())
        mc[name] = {"only_current_right": only_a, "only_candidate_right": only_b,
                    "p_value": round(M.mcnemar_exact(only_a, only_b), 6)}
    out["mcnemar"] = mc
    out["disagreements"] = disagreements(da, pb, top)
    return out


def _percentile_rank(p: np.ndarray) -> np.ndarray:
    return (M._rankdata(p) - 0.5) / len(p)


def disagreements(da: L.LabelledSet, pb: np.ndarray, top: int) -> list[dict]:
    """The images whose rank differs most between the two models (ranks, not raw probabilities: two
    models' probabilities need not be on the same scale)."""
    gap = _percentile_rank(pb) - _percentile_rank(da.p)
    order = np.argsort(-np.abs(gap), kind="stable")[:top]
    return [{"image_id": da.image_ids[i], "path": da.paths[i], "label": "fracture" if da.y[i] else "no_fracture",
             "current": round(float(da.p[i]), 4), "candidate": round(float(pb[i]), 4),
             "rank_gap": round(float(gap[i]), 4)} for i in order]


def text_lines(rep: dict) -> list[str]:
    a, b = rep["current"], rep["candidate"]
    lines = [f"Current {a['name']} {a['version']} vs candidate {b['name']} {b['version']}"]
    s = rep.get("scoring")
    if s:
        lines.append(f"Scoring: {s['labelled']} confirmed labels; candidate scored {s['scored']} now, "
                     f"{s['reused']} already stored; skipped {s['missing']} missing, {s['changed']} changed, "
                     f"{s['unreadable']} unreadable files" + (" (cancelled)" if s["cancelled"] else ""))
        lines += [f"  {p}" for p in s["problems"]]
    c = rep["counts"]
    lines.append(f"Images scored by both: {c['fracture']} fractures, {c['no_fracture']} non-fractures")
    if not rep["enough_labels"]:
        lines.append(rep["message"][0].upper() + rep["message"][1:] + ".")
        return lines
    for side, title in ((a, "current"), (b, "candidate")):
        au = side["roc_auc"]
        lines.append(f"  {title:<9} AUC {au['value']:.3f} (95% CI {au['ci95'][0]:.3f}–{au['ci95'][1]:.3f}), "
                     f"AP {side['average_precision']['value']:.3f}; suspicious >= {side['suspicious']['threshold']:.6g}: "
                     f"sens {side['suspicious']['sensitivity']:.1%} spec {side['suspicious']['specificity']:.1%}; "
                     f"definite >= {side['definite']['threshold']:.6g}: sens {side['definite']['sensitivity']:.1%} "
                     f"spec {side['definite']['specificity']:.1%}")
    d = rep["auc_difference"]
    lines.append(f"AUC difference (candidate − current): {d['candidate_minus_current']:+.3f} "
                 f"(paired 95% CI {d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f}, {d['n_images']} images)")
    for name, m in rep["mcnemar"].items():
        lines.append(f"McNemar at '{name}': only current right {m['only_current_right']}, only candidate right "
                     f"{m['only_candidate_right']}, p = {m['p_value']:.3g}")
    lines.append("Most disagreeing images (label, current, candidate, path):")
    for r in rep["disagreements"][:10]:
        lines.append(f"  {r['label']:<11} {r['current']:.3f} {r['candidate']:.3f}  {r['path']}")
    return lines
