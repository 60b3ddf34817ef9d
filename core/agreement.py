"""Agreement between readers and the reader-study report — plain numbers from plain records, no
database and no Qt (``core.cli.agreement_cmd`` and the app feed it from the store).

Input: one ``Read`` per (image, reader): the reader's current label, the reading mode (``aided``:
model shown; ``blinded``: model hidden) and the time from showing the image to the decision. The
reference label per image (adjudication, or the readers' agreement) comes from the store.

- Cohen's κ for every pair of readers over the images both read (categories fracture, no_fracture,
  doubt), with a 95% bootstrap interval (images resampled, 1000 times, fixed seed).
- Fleiss' κ over the images read by at least two readers (Fleiss 1971, generalised to a varying
  number of readers per image), with the same kind of interval.
- Each reader's sensitivity and specificity against the reference label (images whose reference
  and reading are fracture/no_fracture; doubt counted, not scored), with Wilson 95% intervals and
  the confusion counts (TP, FN, TN, FP) they rest on. An image whose reference is one reader's own
  label (source ``single``) is not scored: a reading is no evidence about itself (counted as
  ``unscored``, with disputed images and a doubtful reference).
- Aided against blinded reading side by side: the same, pooled over readers, plus the median time
  to a decision — always with the counts the figures rest on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Iterable, Optional, Sequence

import numpy as np

CATEGORIES = ("fracture", "no_fracture", "doubt")
BOOTSTRAP = 1000
SEED = 20240601
MIN_PAIRED = 2  # fewer shared images: no kappa


@dataclass(frozen=True)
class Read:
    image_id: str
    reader: str
    label: str
    mode: str = "aided"
    shown_ms: Optional[int] = None


@dataclass
class Interval:
    value: Optional[float]
    low: Optional[float] = None
    high: Optional[float] = None
    n: int = 0

    def text(self, digits: int = 2) -> str:
        if self.value is None:
            return f"n/a (n={self.n})"
        ci = "" if self.low is None else f" [{self.low:.{digits}f}, {self.high:.{digits}f}]"
        return f"{self.value:.{digits}f}{ci} (n={self.n})"


@dataclass(frozen=True)
class Counts:
    """Readings against the reference: true/false positives and negatives (fracture the positive
    class), doubtful readings of a scored image, and readings with no usable reference."""

    tp: int = 0
    fn: int = 0
    tn: int = 0
    fp: int = 0
    doubt: int = 0
    unscored: int = 0


@dataclass
class ReaderScore:
    reader: str
    reads: int
    sensitivity: Interval
    specificity: Interval
    doubt: int
    counts: Counts = field(default_factory=Counts)


@dataclass
class ModeScore:
    mode: str
    reads: int
    sensitivity: Interval
    specificity: Interval
    median_ms: Optional[float]
    timed: int
    counts: Counts = field(default_factory=Counts)


@dataclass
class Report:
    readers: list[str]
    images: int
    pairs: dict[str, Interval] = field(default_factory=dict)  # "A | B" -> Cohen's kappa
    fleiss: Interval = field(default_factory=lambda: Interval(None))
    per_reader: list[ReaderScore] = field(default_factory=list)
    modes: list[ModeScore] = field(default_factory=list)
    reference_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- kappa
def cohen_kappa(a: Sequence[str], b: Sequence[str], categories: Sequence[str] = CATEGORIES) -> Optional[float]:
    """Cohen's κ of two equally long label sequences (None when undefined: chance agreement is 1)."""
    if len(a) != len(b) or not a:
        return None
    idx = {c: i for i, c in enumerate(categories)}
    return _kappa_codes(np.array([idx[x] for x in a]), np.array([idx[y] for y in b]), len(categories))


def _kappa_codes(a: np.ndarray, b: np.ndarray, k: int) -> Optional[float]:
    m = np.bincount(a * k + b, minlength=k * k).reshape(k, k).astype(float)
    n = m.sum()
    po = np.trace(m) / n
    pe = float((m.sum(0) * m.sum(1)).sum()) / (n * n)
    if pe >= 1.0:
        return None
    return float((po - pe) / (1 - pe))


def fleiss_kappa(counts: np.ndarray) -> Optional[float]:
    """Fleiss' κ from an (images × categories) table of how many readers chose each category.
    Rows may have different totals (each ≥ 2)."""
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts.sum(1) >= 2]
    if len(counts) == 0:
        return None
    n_i = counts.sum(1)
    p_i = ((counts * counts).sum(1) - n_i) / (n_i * (n_i - 1))
    p_bar = p_i.mean()
    p_j = counts.sum(0) / counts.sum()
    pe = float((p_j * p_j).sum())
    if pe >= 1.0:
        return None
    return float((p_bar - pe) / (1 - pe))


def _bootstrap(n: int, stat, rng: np.random.Generator) -> tuple[Optional[float], Optional[float]]:  # noqa: ANN001
    values = []
    for _ in range(BOOTSTRAP):
        v = stat(rng.integers(0, n, n))
        if v is not None:
            values.append(v)
    if len(values) < BOOTSTRAP // 2:
        return None, None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def wilson(successes: int, n: int, z: float = 1.959964) -> Interval:
    if n == 0:
        return Interval(None, n=0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)


# ---------------------------------------------------------------------------- report
def _by_image(reads: Iterable[Read]) -> dict[str, dict[str, Read]]:
    out: dict[str, dict[str, Read]] = {}
    for r in reads:
        out.setdefault(r.image_id, {})[r.reader] = r
    return out


SCORED = ("fracture", "no_fracture")  # reference labels a reading can be scored against


def confusion(pairs: Iterable[tuple[str, Optional[str]]]) -> Counts:
    """The counts of (reading, reference) pairs; a reference None (or doubt) leaves a reading unscored."""
    c = {"tp": 0, "fn": 0, "tn": 0, "fp": 0, "doubt": 0, "unscored": 0}
    for r, ref in pairs:
        if ref not in SCORED:
            c["unscored"] += 1
        elif r == "doubt":
            c["doubt"] += 1
        elif ref == "fracture":
            c["tp" if r == "fracture" else "fn"] += 1
        else:
            c["tn" if r == "no_fracture" else "fp"] += 1
    return Counts(**c)


def _sens_spec(pairs: Iterable[tuple[str, Optional[str]]]) -> tuple[Interval, Interval, Counts]:
    """(sensitivity, specificity, counts) of (reading, reference) pairs."""
    c = confusion(pairs)
    return wilson(c.tp, c.tp + c.fn), wilson(c.tn, c.tn + c.fp), c


def agreement_report(reads: Sequence[Read], reference: dict[str, Optional[str]],
                     reference_source: Optional[dict[str, str]] = None) -> Report:
    """The whole report. ``reference``: image id → reference label (None: readers disagree, no
    adjudication yet); ``reference_source``: image id → 'adjudicated' / 'agreed' / 'single' / 'disputed'
    (a 'single' reference — one reader's own label — scores nobody)."""
    rng = np.random.default_rng(SEED)
    source = reference_source or {}
    scoring = {img: (None if source.get(img) == "single" else ref) for img, ref in reference.items()}
    by_image = _by_image(reads)
    readers = sorted({r.reader for r in reads})
    report = Report(readers=readers, images=len(by_image))
    if reference_source:
        for src in reference_source.values():
            report.reference_counts[src] = report.reference_counts.get(src, 0) + 1

    for a, b in combinations(readers, 2):
        shared = [(v[a].label, v[b].label) for v in by_image.values() if a in v and b in v]
        key = f"{a} | {b}"
        if len(shared) < MIN_PAIRED:
            report.pairs[key] = Interval(None, n=len(shared))
            continue
        code = {c: i for i, c in enumerate(CATEGORIES)}
        xa = np.array([code[x] for x, _ in shared])
        xb = np.array([code[y] for _, y in shared])
        value = _kappa_codes(xa, xb, len(CATEGORIES))
        lo, hi = _bootstrap(len(shared), lambda idx: _kappa_codes(xa[idx], xb[idx], len(CATEGORIES)), rng)
        report.pairs[key] = Interval(value, lo, hi, len(shared))

    multi = [v for v in by_image.values() if len(v) >= 2]
    if multi:
        table = np.array([[sum(1 for r in v.values() if r.label == c) for c in CATEGORIES] for v in multi])
        value = fleiss_kappa(table)
        lo, hi = _bootstrap(len(table), lambda idx: fleiss_kappa(table[idx]), rng)
        report.fleiss = Interval(value, lo, hi, len(table))

    for reader in readers:
        mine = [(v[reader].label, scoring.get(img)) for img, v in by_image.items() if reader in v]
        sens, spec, counts = _sens_spec(mine)
        report.per_reader.append(ReaderScore(reader, len(mine), sens, spec, counts.doubt, counts))

    for mode in sorted({r.mode for r in reads}):
        chosen = [r for r in reads if r.mode == mode]
        sens, spec, counts = _sens_spec([(r.label, scoring.get(r.image_id)) for r in chosen])
        times = [r.shown_ms for r in chosen if r.shown_ms is not None]
        report.modes.append(ModeScore(mode, len(chosen), sens, spec, float(np.median(times)) if times else None,
                                      len(times), counts))
    return report


__all__ = ["Read", "Interval", "Counts", "Report", "confusion", "agreement_report", "cohen_kappa", "fleiss_kappa", "wilson", "CATEGORIES"]
