"""Turns pooled out-of-fold scores into the card's metrics: calibration (prior correction + temperature),
the two operating points, bootstrap 95% intervals (resampling whole groups), subgroup AUCs, the
same core figures for the baselines, and the card's flat headline figures. numpy only.
"""

from __future__ import annotations

import numpy as np

from core.evaluation import metrics as M
from core.training.card import fmt_ci

SUBGROUPS = (("hand", "hand", 1), ("leg", "leg", 1), ("hip", "hip", 1), ("shoulder", "shoulder", 1),
             ("hardware", "hardware", 1), ("no_hardware", "hardware", 0))
N_BOOT = 1000


def _ci(stat, y, p, groups, seed=0) -> dict:
    return M.estimate(stat, y, p, groups, n=N_BOOT, seed=seed)


def ranking_metrics(y, p, groups) -> dict:
    """Threshold-free figures + those that pick their own threshold, with intervals."""
    return {
        "roc_auc": _ci(M.roc_auc, y, p, groups),
        "average_precision": _ci(M.average_precision, y, p, groups),
        "specificity_at_95_sensitivity": _ci(M.spec_at_sensitivity, y, p, groups),
        "deferrable_share_at_95_sensitivity": _ci(M.deferrable_share, y, p, groups),
    }


def operating_point(y, p, t: float, groups) -> dict:
    y = np.asarray(y)
    point = M.at_threshold(y, p, t)
    sens = lambda yy, pp: M.at_threshold(yy, pp, t)["sensitivity"]  # noqa: E731
    spec = lambda yy, pp: M.at_threshold(yy, pp, t)["specificity"]  # noqa: E731
    return {"threshold": round(float(t), 6), "sensitivity": _ci(sens, y, p, groups),
            "specificity": _ci(spec, y, p, groups), "ppv": round(point["ppv"], 4),
            "flagged_share": round(point["flagged_share"], 4)}


def crossfit_temperature(y, z, fold) -> np.ndarray:
    """Calibrated probabilities where each fold's temperature was fitted on the other folds only
    (an honest estimate of calibration after scaling)."""
    y, z, fold = np.asarray(y), np.asarray(z, float), np.asarray(fold)
    out = np.zeros(len(y))
    for f in np.unique(fold):
        t = M.fit_temperature(y[fold != f], z[fold != f])
        out[fold == f] = M.sigmoid(z[fold == f] / t)
    return out


def calibration(y, raw_logits, prior_shift: float, fold) -> dict:
    """Fits the shipped temperature on all OOF logits (after the prior correction) and reports
    Brier/ECE before (sigmoid of the raw logits), after the prior correction alone, and after
    temperature scaling (cross-fitted, i.e. each fold scaled by a temperature from the others)."""
    y = np.asarray(y)
    z = np.asarray(raw_logits, float) - prior_shift
    t = M.fit_temperature(y, z)
    before = M.sigmoid(raw_logits)
    shifted = M.sigmoid(z)
    after = crossfit_temperature(y, z, fold)
    fmt = lambda p: {"brier": round(M.brier(y, p), 4), "ece": round(M.ece(y, p), 4)}  # noqa: E731
    return {"temperature": round(t, 5), "prior_shift": round(float(prior_shift), 5),
            "before": fmt(before), "after_prior_correction": fmt(shifted),
            "after_temperature_crossfitted": fmt(after), "after_temperature_in_sample": fmt(M.sigmoid(z / t))}


choose_thresholds = M.choose_thresholds  # lives in core.evaluation.metrics (the app bundle has it too)


def model_metrics(y, p_cal, groups, meta: dict | None = None, *, margin: bool = True) -> dict:
    """Everything the card lists for the model, from calibrated OOF probabilities."""
    y = np.asarray(y)
    th = choose_thresholds(y, p_cal, groups, margin=margin)
    t_susp, t_def = th["suspicious"], th["definite"]
    out = ranking_metrics(y, p_cal, groups)
    out["threshold_rule"] = th["rule"]
    if margin:  # what the targets alone would give, for comparison
        out["without_margin"] = {"suspicious": operating_point(y, p_cal, M.threshold_for_sensitivity(y, p_cal, 0.95), groups),
                                 "definite": operating_point(y, p_cal, M.threshold_for_specificity(y, p_cal, 0.90), groups)}
    out["suspicious"] = operating_point(y, p_cal, t_susp, groups)
    out["definite"] = operating_point(y, p_cal, t_def, groups)
    out["accuracy_at_0.5"] = round(float(np.mean((p_cal >= 0.5) == (y == 1))), 4)
    sub = {}
    for name, col, val in SUBGROUPS:
        if meta and col in meta:
            m = np.asarray(meta[col]) == val
            if m.sum() and 0 < y[m].sum() < m.sum():
                sub[name] = {"n": int(m.sum()), "fractured": int(y[m].sum()),
                             "roc_auc": _ci(M.roc_auc, y[m], p_cal[m], np.asarray(groups)[m])}
            elif m.sum():
                sub[name] = {"n": int(m.sum()), "fractured": int(y[m].sum()), "roc_auc": None}
    if sub:
        out["subgroups"] = sub
    return out


def baseline_metrics(y, p, groups, *, decision_logit: float | None = None) -> dict:
    """Ranking metrics plus an accuracy: with ``decision_logit`` the accuracy of flagging
    ``p >= decision_logit`` (p being logits); without it that of the majority rule (every image
    'not fractured')."""
    y = np.asarray(y)
    out = ranking_metrics(y, p, groups)
    if decision_logit is None:
        out["accuracy"] = round(float(max(y.mean(), 1 - y.mean())), 4)
        out["accuracy_rule"] = "every image called the majority class"
    else:
        out["accuracy"] = round(float(np.mean((np.asarray(p) >= decision_logit) == (y == 1))), 4)
        out["accuracy_rule"] = f"fracture when logit >= {decision_logit:.4g} (probability 0.5 after prior correction)"
    return out


def headline(ev: dict) -> dict:
    """A few flat, readable figures for ``card['metrics']`` (shown by ``fracture-triage info``); the full
    detail stays in ``card['evaluation']``."""
    oof, cal, base = ev["out_of_fold"], ev["calibration"], ev["baselines"]
    out = {"evaluated_by": "pooled out-of-fold predictions, " + ev["protocol"].split(";")[0]}
    for key in ("roc_auc", "average_precision", "specificity_at_95_sensitivity", "deferrable_share_at_95_sensitivity"):
        out[key] = fmt_ci(oof[key])
    for name in ("suspicious", "definite"):
        out[f"{name}_sensitivity"] = fmt_ci(oof[name]["sensitivity"])
        out[f"{name}_specificity"] = fmt_ci(oof[name]["specificity"])
    out["calibration_after"] = "Brier {brier}, ECE {ece}".format(**cal["after_temperature_crossfitted"])
    for name, b in base.items():
        out[f"baseline_{name}_roc_auc"] = fmt_ci(b["roc_auc"])
    if "no_hardware" in oof.get("subgroups", {}):
        out["roc_auc_without_hardware"] = fmt_ci(oof["subgroups"]["no_hardware"]["roc_auc"])
    return out
