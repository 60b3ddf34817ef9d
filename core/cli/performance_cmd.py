"""``fracture-triage performance``: how the model in use does on this clinic's confirmed labels
(``core.evaluation.performance``), as text or ``--json``."""

from __future__ import annotations

import argparse

from core.cli import common


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser(
        "performance",
        help="how the model does on this clinic's confirmed labels",
        description="ROC-AUC and average precision with bootstrap 95%% intervals, sensitivity/specificity at "
        "both active operating points, confusion counts, by body part, view, month and model version, on the "
        "images with a current decision of fracture / no_fracture (doubt excluded and counted). Below 20 "
        "fractures or 20 non-fractures it says there are not enough labels yet.",
    )
    common.add_db_argument(p)
    common.add_model_argument(p)
    p.add_argument("--since", metavar="DATE", help="only decisions made on or after this date (YYYY-MM-DD, UTC)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (curves included)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.cli.scan_cmd import _say
    from core.evaluation.performance import report, text_lines

    since = common.since_arg(args.since)
    store = common.open_store_from(args)
    try:
        card, res = common.current_card(args, store)
        rep = report(store, card, since)
    finally:
        store.close()
    if res.note:
        rep["model_note"] = res.note
    if args.json:
        common.print_json(rep)
        return 0
    if res.note:
        _say(f"note: {res.note}")
    for line in text_lines(rep):
        _say(line)
    return 0
