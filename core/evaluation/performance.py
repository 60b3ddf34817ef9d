"""How the model does on this clinic's confirmed labels: ROC-AUC and average precision with bootstrap
95% intervals (resampling whole studies where studies are known), sensitivity/specificity at both
active operating points with intervals, confusion counts, the same by body part, view, month of the
decision and model version, the ROC and calibration curves for plotting, and a plain-language alarm
when the lower bound of the sensitivity at 'suspicious' falls below the card's promise.

Every figure carries its counts; below the minimum (``core.evaluation.labelled``) a group reports
"not enough labels yet" instead of figures. Returns plain dicts (JSON-able) and text lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Optional

import numpy as np

from core.evaluation import labelled as L
from core.evaluation import metrics as M
from core.evaluation.calibration import ActiveThresholds, active_thresholds

if TYPE_CHECKING:  # pragma: no cover
    from core.model.card import ModelCard
    from core.store import Store

N_BOOT = 1000


def _point(d: L.LabelledSet, t: float, n_boot: int) -> dict:
    y, p, g = d.y, d.p, d.groups
    flag = p >= t
    conf = {"tp": int((flag & (y == 1)).sum()), "fp": int((flag & (y == 0)).sum()),
            "fn": int((~flag & (y == 1)).sum()), "tn": int((~flag & (y == 0)).sum())}
    sens = lambda yy, pp: M.at_threshold(yy, pp, t)["sensitivity"]  # noqa: E731
    spec = lambda yy, pp: M.at_threshold(yy, pp, t)["specificity"]  # noqa: E731
    return {"threshold": round(float(t), 6),
            "sensitivity": {**M.estimate(sens, y, p, g, n=n_boot), "n": d.fractures},
            "specificity": {**M.estimate(spec, y, p, g, n=n_boot), "n": d.non_fractures},
            "confusion": conf, "flagged_share": round(float(flag.mean()), 4)}


def figures(d: L.LabelledSet, active: ActiveThresholds, n_boot: int = N_BOOT) -> dict:
    """The figures of one set of labelled scores (or 'not enough labels' with the counts)."""
    out: dict = {"counts": d.counts(), "enough_labels": L.enough(d.y)}
    if not out["enough_labels"]:
        out["message"] = L.not_enough_message(d.y)
        return out
    out["roc_auc"] = M.estimate(M.roc_auc, d.y, d.p, d.groups, n=n_boot)
    out["average_precision"] = M.estimate(M.average_precision, d.y, d.p, d.groups, n=n_boot)
    t = active.thresholds
    out["suspicious"] = _point(d, t.suspicious, n_boot)
    out["definite"] = _point(d, t.definite, n_boot)
    return out


def _by(d: L.LabelledSet, keys: list, active: ActiveThresholds, n_boot: int) -> list[dict]:
    rows = []
    for key in sorted({k for k in keys if k is not None}):
        mask = np.asarray([k == key for k in keys])
        rows.append({"group": key, **figures(d.subset(mask), active, n_boot)})
    unknown = sum(1 for k in keys if k is None)
    if unknown and rows:
        rows.append({"group": None, "counts": {"images": unknown}, "enough_labels": False,
                     "message": f"{unknown} images where this is not known"})
    return rows


def alarm(fig: dict, promise: float = M.SENSITIVITY_TARGET, calibrated: bool = False) -> Optional[str]:
    """The plain-language warning, or None when the labels support the card's promise."""
    if not fig.get("enough_labels"):
        return None
    s = fig["suspicious"]["sensitivity"]
    lo = s["ci95"][0]
    if lo is None or lo >= promise:
        return None
    missed = fig["suspicious"]["confusion"]["fn"]
    return (f"The 'suspicious' flag may be missing more fractures here than the model card promises: it "
            f"caught {s['value']:.0%} of the {s['n']} confirmed fractures ({missed} missed; 95% interval "
            f"{lo:.0%}–{s['ci95'][1]:.0%}), and the card promises at least {promise:.0%}. Read unflagged images too"
            + ("; the active thresholds were already fitted on these labels, so only more confirmed fractures "
               "can narrow the interval." if calibrated else
               ", and consider `fracture-triage calibrate` to refit the thresholds on this clinic's labels."))


def curves(d: L.LabelledSet, bins: int = 10) -> dict:
    """ROC points and the reliability (calibration) bins, for plotting."""
    if d.n == 0 or d.fractures == 0 or d.non_fractures == 0:
        return {}
    fpr, tpr, _ = M.roc_curve(d.y, d.p)
    mean_p, observed, count = M.reliability(d.y, d.p, bins)
    return {"roc": {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr]},
            "calibration": {"mean_predicted": [round(float(v), 5) for v in mean_p],
                            "observed": [round(float(v), 5) for v in observed], "count": [int(c) for c in count]}}


def report(store: "Store", card: "ModelCard", since: Optional[datetime] = None, n_boot: int = N_BOOT) -> dict:
    """The whole performance report for ``card``'s model version (see the module docstring)."""
    rows = store.labelled_images()
    active = active_thresholds(store, card)
    d = L.build(rows, card.version, since)
    main = figures(d, active, n_boot)
    out = {"model": {"name": card.name, "version": card.version}, "thresholds": active.as_dict(),
           "thresholds_text": active.describe(),
           "since": since.date().isoformat() if since else None,
           "minimum": {"fracture": L.MIN_FRACTURES, "no_fracture": L.MIN_NON_FRACTURES},
           "promise": {"suspicious_sensitivity": M.SENSITIVITY_TARGET, "definite_specificity": M.SPECIFICITY_TARGET},
           **main}
    out["alarm"] = alarm(main, calibrated=active.calibrated)
    out["by_body_part"] = _by(d, d.body_part, active, n_boot)
    out["by_view"] = _by(d, d.view, active, n_boot)
    out["by_month"] = _by(d, d.month, active, n_boot)
    per_version = []
    for v in L.versions_scored(rows):
        dv = L.build(rows, v, since)
        fv = figures(dv, active, n_boot) if v == card.version else _ranking_only(dv, n_boot)
        per_version.append({"group": v, **fv})
    out["by_model_version"] = per_version
    out["curves"] = curves(d) if main["enough_labels"] else {}
    return out


def _ranking_only(d: L.LabelledSet, n_boot: int) -> dict:
    """Other model versions: their thresholds are their own cards', so only threshold-free figures."""
    out: dict = {"counts": d.counts(), "enough_labels": L.enough(d.y)}
    if not out["enough_labels"]:
        out["message"] = L.not_enough_message(d.y)
        return out
    out["roc_auc"] = M.estimate(M.roc_auc, d.y, d.p, d.groups, n=n_boot)
    out["average_precision"] = M.estimate(M.average_precision, d.y, d.p, d.groups, n=n_boot)
    return out


# ---------------------------------------------------------------------------------- text
def _ci(e: dict, pct: bool = False) -> str:
    if e is None or e.get("value") is None:
        return "n/a"
    f = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.3f}")  # noqa: E731
    lo, hi = e["ci95"]
    return f"{f(e['value'])} (95% CI {f(lo) if lo is not None else '?'}–{f(hi) if hi is not None else '?'})"


def _counts(c: dict) -> str:
    return f"{c.get('fracture', 0)} fractures, {c.get('no_fracture', 0)} non-fractures"


def _group_line(r: dict) -> str:
    name = r["group"] if r["group"] is not None else "(unknown)"
    if not r.get("enough_labels"):
        c = r["counts"]
        return f"  {name}: {_counts(c) if 'fracture' in c else str(c.get('images')) + ' images'} — " \
               f"{r.get('message', 'not enough labels yet')}"
    line = f"  {name}: {_counts(r['counts'])}; AUC {_ci(r['roc_auc'])}"
    if "suspicious" in r:
        line += (f"; sensitivity at suspicious {_ci(r['suspicious']['sensitivity'], True)}, "
                 f"specificity at definite {_ci(r['definite']['specificity'], True)}")
    return line


def text_lines(rep: dict) -> list[str]:
    m = rep["model"]
    c = rep["counts"]
    lines = [f"Model {m['name']} {m['version']} on this clinic's confirmed labels"
             + (f" (decisions since {rep['since']})" if rep.get("since") else ""),
             f"Thresholds: {rep['thresholds_text']}",
             f"Labels: {_counts(c)} ({c['doubt_excluded']} doubt, {c['without_score_excluded']} without a score "
             f"of this version, {c.get('out_of_scope_excluded', 0)} out of the model's scope"
             + (f", {c['before_since_excluded']} before --since" if rep.get("since") else "")
             + " excluded)"]
    if not rep["enough_labels"]:
        lines.append(rep["message"][0].upper() + rep["message"][1:] + ".")
        return lines
    lines += [f"ROC-AUC {_ci(rep['roc_auc'])}", f"Average precision {_ci(rep['average_precision'])}"]
    for name in ("suspicious", "definite"):
        pt = rep[name]
        k = pt["confusion"]
        lines.append(f"At '{name}' (>= {pt['threshold']:.6g}): sensitivity {_ci(pt['sensitivity'], True)} of "
                     f"{pt['sensitivity']['n']}, specificity {_ci(pt['specificity'], True)} of {pt['specificity']['n']}; "
                     f"TP {k['tp']} FP {k['fp']} FN {k['fn']} TN {k['tn']}; flags {pt['flagged_share']:.1%}")
    lines.append("ALARM: " + rep["alarm"] if rep.get("alarm") else
                 f"Sensitivity at 'suspicious' is consistent with the card's promise ({M.SENSITIVITY_TARGET:.0%}).")
    for key, title in (("by_body_part", "By body part"), ("by_view", "By view"), ("by_month", "By month"),
                       ("by_model_version", "By model version")):
        if rep.get(key):
            lines.append(f"{title}:")
            lines += [_group_line(r) for r in rep[key]]
    return lines
