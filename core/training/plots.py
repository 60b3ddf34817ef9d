"""ROC, precision–recall and calibration plots (PNG) for MODEL_CARD.md and ``evaluate``.
matplotlib (part of the ``train`` extra) is imported lazily with the non-interactive Agg backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.evaluation import metrics as M


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def roc_plot(path: Path, y, curves: dict[str, np.ndarray], points: dict[str, tuple[float, float]] | None = None,
             where: str = "out-of-fold") -> Path:
    """``curves``: label → scores; ``points``: label → (specificity, sensitivity) operating points."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.4), dpi=100)
    for label, s in curves.items():
        fpr, tpr, _ = M.roc_curve(y, s)
        ax.plot(fpr, tpr, lw=1.6, label=f"{label} (AUC {M.roc_auc(y, s):.3f})")
    for label, (spec, sens) in (points or {}).items():
        ax.plot([1 - spec], [sens], "o", ms=6, label=f"{label}: sens {sens:.2f}, spec {spec:.2f}")
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=1)
    ax.set(xlabel="1 − specificity", ylabel="sensitivity", title=f"ROC ({where})", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def pr_plot(path: Path, y, curves: dict[str, np.ndarray], where: str = "out-of-fold") -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.4), dpi=100)
    for label, s in curves.items():
        prec, rec, _ = M.pr_curve(y, s)
        ax.step(np.r_[0, rec], np.r_[prec[0], prec], where="post", lw=1.6,
                label=f"{label} (AP {M.average_precision(y, s):.3f})")
    ax.axhline(float(np.mean(y)), ls=":", color="grey", lw=1, label=f"prevalence {np.mean(y):.3f}")
    ax.set(xlabel="recall (sensitivity)", ylabel="precision", title=f"Precision–recall ({where})",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def calibration_plot(path: Path, y, probs: dict[str, np.ndarray], bins: int = 10, where: str = "out-of-fold") -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.4), dpi=100)
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=1)
    for label, p in probs.items():
        mp, obs, n = M.reliability(y, p, bins)
        ax.plot(mp, obs, "o-", ms=3, lw=1.4, label=f"{label} (ECE {M.ece(y, p, bins):.3f})")
    ax.set(xlabel="predicted probability", ylabel="observed fracture rate", title=f"Calibration ({where})",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
