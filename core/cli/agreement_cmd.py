"""``fracture-triage agreement``: the reader-study report from the label database — Cohen's κ for
each pair of readers, Fleiss' κ overall (95% bootstrap intervals), each reader's sensitivity and
specificity against the reference label, and aided against blinded reading side by side (see
``core.agreement``), always with counts. ``--json`` for a machine-readable report."""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser(
        "agreement",
        help="agreement between readers (Cohen's and Fleiss' kappa) and each reader against the reference",
        description="Report how well the readers agree: Cohen's kappa for each pair of readers, Fleiss' kappa over "
        "all images read at least twice (95%% bootstrap intervals), each reader's sensitivity and specificity against "
        "the reference label (an adjudication, or the readers' agreement), and aided against blinded reading "
        "(sensitivity, specificity, median time to decide). Adjudicators are not counted as readers.",
    )
    p.add_argument("--db", metavar="URL", help="database URL (default: $FRACTURE_TRIAGE_DB, else the settings' "
                   "database, else the one in the user data folder)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def collect(store):  # noqa: ANN001, ANN201
    """(reads, reference, reference source) from the store, for ``core.agreement.agreement_report``."""
    from core.store.readers import agreement_inputs

    return agreement_inputs(store.labels_by_reader())


def counts_text(c) -> str:  # noqa: ANN001
    """'TP 18, FN 2, TN 35, FP 3; doubt 2; unscored 0' (``core.agreement.Counts``)."""
    return f"TP {c.tp}, FN {c.fn}, TN {c.tn}, FP {c.fp}; doubt {c.doubt}; unscored {c.unscored}"


def lines(report) -> list[str]:  # noqa: ANN001
    out = [f"Readers: {', '.join(report.readers) or 'none'}; images read: {report.images}"]
    if report.reference_counts:
        out.append("Reference labels: " + ", ".join(f"{k} {v}" for k, v in sorted(report.reference_counts.items())))
    out.append("")
    out.append("Cohen's kappa per pair of readers (95% bootstrap interval, images both read):")
    if not report.pairs:
        out.append("  no pair of readers yet")
    for pair, iv in report.pairs.items():
        out.append(f"  {pair}: {iv.text()}")
    out.append(f"Fleiss' kappa, images read at least twice: {report.fleiss.text()}")
    out.append("")
    out.append("Each reader against the reference label (reference and reading fracture/no_fracture; Wilson 95%):")
    for s in report.per_reader:
        out.append(f"  {s.reader}: {s.reads} reads; sensitivity {s.sensitivity.text()}; specificity "
                   f"{s.specificity.text()}; {counts_text(s.counts)}")
    out.append("")
    out.append("Aided (model shown) and blinded (model hidden) reading:")
    for m in report.modes:
        median = "n/a" if m.median_ms is None else f"{m.median_ms / 1000:.1f} s"
        out.append(f"  {m.mode}: {m.reads} reads; sensitivity {m.sensitivity.text()}; specificity "
                   f"{m.specificity.text()}; {counts_text(m.counts)}; median time to decide {median} (n={m.timed})")
    out.append("")
    out.append("Fracture is the positive class. Unscored: no reference yet (disputed), a doubtful reference, or "
               "the reader's own single reading.")
    out.append("Note: where the reference is the readers' own agreement, readers score high by construction; "
               "adjudicate the disputed images for a fair comparison.")
    return out


def run(args: argparse.Namespace) -> int:
    from core.agreement import agreement_report
    from core.cli import CliError
    from core.config import resolve
    from core.store import StoreError, open_store

    config = resolve(db=args.db)
    try:
        store = open_store(config.db_url, backups_keep=config.backups_keep)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        reads, reference, source = collect(store)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    report = agreement_report(reads, reference, source)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print("\n".join(lines(report)))
    return 0
