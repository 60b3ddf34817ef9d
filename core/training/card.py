"""The model card: the JSON written beside every ``.onnx`` (read by ``core.model``) and MODEL_CARD.md
rendered from it. The card is the single source of truth; the Markdown only presents it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

DATA_CREDIT = ("FracAtlas: Abedeen, I. et al. \"FracAtlas: A Dataset for Fracture Classification, Localization "
               "and Segmentation of Musculoskeletal Radiographs\", Scientific Data 10, 521 (2023), "
               "doi:10.1038/s41597-023-02432-4; data doi:10.6084/m9.figshare.22363012; licence CC BY 4.0.")
INTENDED_USE = ("A triage aid that orders a worklist of radiographs so that the images most likely to show a "
                "fracture are read first. It is not a diagnosis and does not replace reading every image. "
                "Trained and evaluated only on FracAtlas radiographs of the hand, leg, hip and shoulder; "
                "not validated on children or on any other body part. Probabilities are "
                "calibrated on the developer data and may be miscalibrated on other sites' images.")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def outputs_spec(size: int, *, stride: int = 32, pooling: str = "mean", embedding_dim: int | None = None) -> list[dict]:
    side = size // stride
    how = ("its logit mean is the image's logit" if pooling == "mean" else
           "the image's logit is the log-sum-exp pooling of these logits (between their mean and their maximum)")
    out = [
        {"name": "probability", "shape": ["N"],
         "meaning": "calibrated probability of a fracture (prior correction and temperature scaling inside the graph)"},
        {"name": "cam", "shape": ["N", side, side],
         "meaning": f"class-activation map over the letterboxed {size}x{size} input: sigmoid of the calibrated "
                    f"logit of each {stride}x{stride}-pixel region, in [0, 1]; {how}"},
    ]
    if embedding_dim:
        out.append({"name": "embedding", "shape": ["N", int(embedding_dim)],
                    "meaning": "global average of the last stage's features (flip-averaged with TTA): what the "
                               "scope gate compares with the training images"})
    return out


def write_json(path: Path, card: dict) -> None:
    tmp = Path(path).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


class CardError(ValueError):
    """A model card that cannot be read or amended (the message names the file)."""


def read_card(path: Path) -> dict:
    try:
        card = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CardError(f"{path}: not a readable model card ({exc})") from exc
    if not isinstance(card, dict) or not card.get("name") or not card.get("version"):
        raise CardError(f"{path}: not a model card (no name and version)")
    return card


def card_key(card: dict) -> str:
    return f"{card.get('name')}-{card.get('version')}"


def card_row(card: dict) -> dict:
    """A card's headline out-of-fold figures as one row of a later card's comparison table."""
    ev = card.get("evaluation", {})
    oof = ev.get("out_of_fold", {})
    sub = oof.get("subgroups", {})
    return {"model": card_key(card), "data_key": card.get("training", {}).get("data", {}).get("data_key"),
            "roc_auc": oof.get("roc_auc"), "average_precision": oof.get("average_precision"),
            "specificity_at_95_sensitivity": oof.get("specificity_at_95_sensitivity"),
            "suspicious_flagged_share": oof.get("suspicious", {}).get("flagged_share"),
            "subgroup_auc": {k: (v.get("roc_auc") or {}).get("value") for k, v in sub.items()},
            "localisation": ev.get("localisation"),
            "recipe": card.get("training", {}).get("recipe")}


def comparison_rows(earlier: list[dict], rows: list[dict] | None = None, skip: str = "") -> list[dict]:
    """The comparison table carried forward: for each earlier card (oldest first) the rows it carries
    and its own row, then ``rows`` (the card's own table), each model once (the first row of a name
    wins) and never ``skip`` (the card being written)."""
    out: list[dict] = []
    seen = {skip}
    for row in [*(r for c in earlier for r in [*(c.get("evaluation", {}).get("comparison") or []), card_row(c)]),
                *(rows or [])]:
        if row.get("model") not in seen:
            seen.add(row.get("model"))
            out.append(row)
    return out


def tried_notes(earlier: list[dict], notes: list[str] | None = None, new: list[str] | None = None) -> list[str]:
    """'What was tried', carried forward: the earlier cards' lines (oldest card first), ``notes`` (the
    card's own), then ``new``; each text once."""
    out: list[str] = []
    for text in [*(t for c in earlier for t in c.get("training", {}).get("what_was_tried") or []),
                 *(notes or []), *(new or [])]:
        if text and text not in out:
            out.append(text)
    return out


def plots_beside(folder: Path, stem: str) -> dict[str, str]:
    """The plots ``train`` writes for ``stem`` that exist in ``folder`` ({'roc': 'STEM-roc.png', ...})."""
    return {k: f"{stem}-{k}.png" for k in ("roc", "pr", "calibration") if (Path(folder) / f"{stem}-{k}.png").is_file()}


def card_markdown(card: dict, plots: dict[str, str] | None = None) -> str:
    """MODEL_CARD.md of a model card: ``render_markdown`` with the card's scope-gate section."""
    from core.scope import model_card_lines

    return render_markdown(card, plots, model_card_lines((card.get("scope") or {}).get("content")) + [""])


def amend(path: Path, compare: list[Path], notes: list[str]) -> Path:
    """Add earlier models' rows (``compare``: their cards, and the rows those carry) and 'what was
    tried' lines to the card at ``path`` and render MODEL_CARD.md beside it again (the plots named as
    ``train`` names them, where they exist). The ONNX file and its sha256 are not touched. Returns the
    Markdown file."""
    path = Path(path)
    card = read_card(path)
    earlier = [read_card(p) for p in compare]
    ev = card.setdefault("evaluation", {})
    ev["comparison"] = comparison_rows(earlier, ev.get("comparison"), skip=card_key(card))
    tr = card.setdefault("training", {})
    tr["what_was_tried"] = tried_notes(earlier, tr.get("what_was_tried"), notes)
    write_json(path, card)
    md = path.parent / "MODEL_CARD.md"
    md.write_text(card_markdown(card, plots_beside(path.parent, path.stem)), encoding="utf-8")
    return md


def fmt_ci(d) -> str:
    """{'value': v, 'ci95': [lo, hi]} → 'v (95% CI lo–hi)'."""
    if not isinstance(d, dict) or d.get("value") is None:
        return "n/a"
    lo, hi = d.get("ci95") or [None, None]
    return f"{d['value']:.3f}" if lo is None else f"{d['value']:.3f} (95% CI {lo:.3f}–{hi:.3f})"


def _ci(d) -> str:
    if not isinstance(d, dict) or d.get("value") is None:
        return "n/a"
    lo, hi = d.get("ci95") or [None, None]
    if lo is None:
        return f"{d['value']:.3f}"
    return f"{d['value']:.3f} ({lo:.3f}–{hi:.3f})"


def _short_command(cmd: str) -> str:
    """The training command with each ``--note TEXT`` shortened to ``--note …``."""
    import shlex

    try:
        args = shlex.split(cmd)
    except ValueError:
        return cmd
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            out.append("…")
            continue
        out.append(a)
        skip = a == "--note"
    return shlex.join(out).replace("'…'", "…")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _quantization_lines(q: dict) -> list[str]:
    """The card's section on the int8 graph: its pooled out-of-fold figures beside the float graph's."""
    f, i = q.get("out_of_fold_float_graph", {}), q.get("out_of_fold_int8_graph", {})
    keys = [("roc_auc", "ROC-AUC"), ("average_precision", "AP"), ("specificity_at_95_sensitivity", "spec. at 95% sens."),
            ("suspicious_flagged_share", "share flagged 'suspicious'")] + [
        (f"{k}_roc_auc", f"AUC {k}") for k in ("hand", "leg", "hip", "shoulder", "no_hardware")]
    keys = [(k, t) for k, t in keys if k in f or k in i]
    d = q.get("against_float_graph", {})
    return ["### The int8 graph (what ships) against the float graph", "",
            f"The file is quantized to int8: {q.get('scheme', '')}. Every cross-validation fold's graph was "
            "quantized the same way on that fold's training images and run on its held-out images, so every "
            "figure, threshold and the scope gate on this card are the int8 graph's. The float graph of the same "
            "folds, calibrated the same way:", "",
            _table(["graph"] + [t for _, t in keys], [["float32"] + [f.get(k) for k, _ in keys],
                                                       ["**int8 (shipped)**"] + [i.get(k) for k, _ in keys]]), "",
            f"The final int8 graph against the final float graph on {d.get('images')} training images"
            f"{' it was not calibrated on' if d.get('calibration_images_excluded', True) else ''}: rank correlation {d.get('spearman')}, probabilities within "
            f"{d.get('probability_max_abs_diff')}, mean logit difference {d.get('logit_mean_abs_diff')}.", "",
            "These figures need onnxruntime's exact int8 kernels, which the app asks for (session option "
            "`session.x64quantprecision`): on x86 CPUs with AVX2 but without VNNI the default kernels saturate, "
            "and 3.2.0 then ranked 256 FracAtlas images with a rank correlation of 0.952 against its float graph "
            "(0.993 with the exact kernels). Any other runtime must compute int8 exactly too. The exact kernels "
            "are fast only on CPUs with int8 dot-product instructions (VNNI): on AVX2 without VNNI they run at "
            "about the float graph's speed (3.2.0: 13.1 ms per image on such a CPU against 4.2 ms on the training machine).", ""]


def render_markdown(card: dict, plots: dict[str, str] | None = None, extra: list[str] | None = None) -> str:
    """MODEL_CARD.md text from a card dict; ``plots`` maps 'roc'/'pr'/'calibration' to PNG file names;
    ``extra``: further Markdown lines placed before the limitations (the scope gate's section)."""
    m = card.get("evaluation", {})
    oof = m.get("out_of_fold", {})
    base = m.get("baselines", {})
    cal = m.get("calibration", {})
    tr = card.get("training", {})
    inf = card.get("inference", {})
    lines = [f"# Model card: {card['name']} {card['version']}", "",
             "_Rendered from `" + f"{card['name']}-{card['version']}.json" + "`; the JSON is authoritative._", "",
             "## Intended use", "", card.get("intended_use", ""), "",
             "## Model", "",
             f"- Input `{card['input']['name']}`: float32 (N, 1, {card['input']['size']}, {card['input']['size']}) in [0, 1], "
             f"preprocessing `{card['input']['preprocessing']}` (greyscale, letterboxed, black padding; "
             "`core.imaging.preprocess.prepare`, shared with the app).",
             *[f"- Output `{o['name']}` {o['shape']}: {o['meaning']}." for o in card.get("outputs", [])],
             f"- Architecture: {json.dumps(card.get('architecture', {}))}.",
             f"- Flip test-time augmentation inside the graph: {'yes' if cal.get('tta') else 'no'}; "
             f"temperature {cal.get('temperature')}, prior shift {cal.get('prior_shift')}.",
             f"- ONNX inference: {inf.get('ms_per_image')} ms/image (median; batch {inf.get('batch')}, "
             f"{inf.get('threads')} threads, onnxruntime {inf.get('onnxruntime')}, {inf.get('machine', '')}"
             + (f": {inf['machine_note']}" if inf.get("machine_note") else "") + ").",
             *([f"- Weights: {inf['weights']}."] if inf.get("weights") else []),
             f"- sha256 of the .onnx: `{card.get('sha256')}`.", "",
             "## Thresholds (from out-of-fold predictions)", "",
             _table(["flag", "threshold", "sensitivity", "specificity", "PPV", "share flagged"], [
                 [name, oof.get(name, {}).get("threshold"), _ci(oof.get(name, {}).get("sensitivity")),
                  _ci(oof.get(name, {}).get("specificity")), oof.get(name, {}).get("ppv"),
                  oof.get(name, {}).get("flagged_share")] for name in ("suspicious", "definite")]), "",
             "How they were chosen: " + oof.get("threshold_rule", "'suspicious' is the highest threshold keeping "
             "sensitivity ≥ 0.95; 'definite' the lowest keeping specificity ≥ 0.90") + ". Intervals here hold the "
             "threshold fixed; 'spec. at 95% sens.' below re-chooses the threshold in every bootstrap sample, "
             "hence its wider interval.", "",
             *(["Without the margin (exactly at the targets) the thresholds would be: " + "; ".join(
                 f"{n} {w['threshold']} (sensitivity {_ci(w['sensitivity'])}, specificity {_ci(w['specificity'])}, "
                 f"share flagged {w['flagged_share']})" for n, w in oof["without_margin"].items()) + ".", ""]
               if oof.get("without_margin") else []),
             "## Out-of-fold results (95% intervals: bootstrap over id blocks)", "",
             f"Protocol: {m.get('protocol', '')}", ""]
    rows = []
    cols = ("roc_auc", "average_precision", "specificity_at_95_sensitivity", "deferrable_share_at_95_sensitivity")
    rows.append(["**this model**"] + [_ci(oof.get(c)) for c in cols] + [oof.get("accuracy_at_0.5", "")])
    for name, b in base.items():
        rows.append([b.get("label", name)] + [_ci(b.get(c)) for c in cols] + [b.get("accuracy", "")])
    lines += [_table(["model", "ROC-AUC", "average precision", "spec. at 95% sens.", "deferrable at 95% sens.",
                      "accuracy"], rows), "",
              "Accuracy: this model at calibrated p ≥ 0.5; the majority baseline calls every image 'not "
              "fractured'; the other baselines flag at probability 0.5 (after undoing their class balancing). "
              "Accuracy mostly reflects the 83% of images without a fracture; ROC-AUC and the operating "
              "points are the figures that matter for triage.", ""]
    sub = oof.get("subgroups", {})
    if sub:
        lines += ["### Subgroups", "", _table(["subgroup", "images", "fractured", "ROC-AUC"],
                                               [[k, v["n"], v["fractured"], _ci(v.get("roc_auc"))] for k, v in sub.items()]),
                  "", "Orthopaedic hardware is almost always fractured in FracAtlas and is a shortcut; the "
                  "'no_hardware' row is the fairer figure.", ""]
    quant = tr.get("quantization")
    if quant:
        lines += _quantization_lines(quant)
    if cal:
        lines += ["### Calibration", "", _table(["probabilities", "Brier", "ECE (10 bins)"], [
            [k.replace("_", " "), cal[k]["brier"], cal[k]["ece"]] for k in
            ("before", "after_prior_correction", "after_temperature_crossfitted", "after_temperature_in_sample") if k in cal]),
            "", "'before' is the raw network output (trained with positives oversampled); 'crossfitted' "
            "scales each fold with a temperature fitted on the other folds (honest); the shipped "
            "temperature is fitted on all out-of-fold predictions.", ""]
    loc = m.get("localisation") or {}
    comp = m.get("comparison") or []
    if comp or loc.get("images"):
        lines += ["### Compared with earlier models (same data and folds)", ""]
        def _v(d):
            return d.get("value") if isinstance(d, dict) else d
        def _loc(d):
            return (f"{d['peak_in_box']} / {d['any_of_top3_in_box']} ({d.get('cells', '')})"
                    if isinstance(d, dict) and d.get("images") else "not measured")
        parts = ("hand", "leg", "hip", "shoulder", "no_hardware")
        rows = [[r["model"], _ci(r.get("roc_auc")), _ci(r.get("specificity_at_95_sensitivity")),
                 r.get("suspicious_flagged_share")] + [(r.get("subgroup_auc") or {}).get(k) for k in parts]
                + [_loc(r.get("localisation"))] for r in comp]
        rows.append([f"**{card['name']}-{card['version']}**", _ci(oof.get("roc_auc")),
                     _ci(oof.get("specificity_at_95_sensitivity")), (oof.get("suspicious") or {}).get("flagged_share")]
                    + [_v((oof.get("subgroups", {}).get(k) or {}).get("roc_auc")) for k in parts] + [_loc(loc)])
        lines += [_table(["model", "ROC-AUC", "spec. at 95% sens.", "share flagged 'suspicious'"]
                         + [f"AUC {k}" for k in parts] + ["heatmap peak in box / top-3 cell in box"], rows), "",
                  "Localisation: " + str(loc.get("how", "")) + ".", ""]
    for key, title in (("roc", "ROC"), ("pr", "Precision–recall"), ("calibration", "Calibration")):
        if plots and plots.get(key):
            lines += [f"![{title}]({plots[key]})", ""]
    lines += ["## Training", "",
              f"- Data: {json.dumps(tr.get('data', {}))}.",
              f"- Excluded (unreadable by the app's reader, so never scored): {len(tr.get('excluded', []))} files.",
              f"- Recipe: {json.dumps(tr.get('recipe', {}))}.",
              f"- Command: `{_short_command(tr.get('command', ''))}` (the '--note' texts are the list under "
              f"'What was tried'); seed {tr.get('seed')}; torch {tr.get('torch')}.",
              f"- Time: cross-validation {tr.get('cv_seconds')} s, final training {tr.get('final_seconds')} s "
              f"({tr.get('machine', '')}).", ""]
    if tr.get("what_was_tried"):
        lines += ["## What was tried", ""] + [f"- {t}" for t in tr["what_was_tried"]] + [""]
    lines += list(extra or [])
    if card.get("limitations"):
        lines += ["## Limitations", ""] + [f"- {t}" for t in card["limitations"]] + [""]
    lines += ["## Data credit", "", card.get("data_credit", ""), ""]
    return "\n".join(lines)
