"""``fracture-triage calibrate``: thresholds refitted on this clinic's confirmed labels with the model
card's own rule (``core.evaluation.calibration``); ``--apply`` makes them active for the model version,
``--revert`` puts the card's back — both recorded as model events."""

from __future__ import annotations

import argparse

from core.cli import CliError, common


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser(
        "calibrate",
        help="refit the 'suspicious'/'definite' thresholds on this clinic's confirmed labels",
        description="Proposes 'suspicious' (sensitivity >= 0.95) and 'definite' (specificity >= 0.90) thresholds "
        "fitted on the confirmed labels with the model card's margin rule (the target held by the lower bound of "
        "the bootstrap 95%% interval), with the counts they rest on and "
        "the share of images they would flag. --apply makes them active for this model version; --revert goes "
        "back to the model card's thresholds. Both are recorded (who, when, based on what).",
    )
    common.add_db_argument(p)
    common.add_model_argument(p)
    p.add_argument("--since", metavar="DATE", help="fit only on decisions made on or after this date (YYYY-MM-DD)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--apply", action="store_true", help="make the proposed thresholds active (recorded)")
    g.add_argument("--revert", action="store_true", help="make the model card's thresholds active again (recorded)")
    g.add_argument("--history", action="store_true", help="list the calibration events of this model version")
    p.add_argument("--by", metavar="NAME", help="who applies or reverts (default: the reviewer in the settings)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.cli.scan_cmd import _say
    from core.evaluation import calibration as C

    since = common.since_arg(args.since)
    actor = common.who(args) if (args.apply or args.revert) else None
    store = common.open_store_from(args)
    try:
        card, _res = common.current_card(args, store)
        if args.history:
            evts = store.model_events(card.version, C.THRESHOLD_KINDS)
            if args.json:
                common.print_json([e.__dict__ for e in evts])
            else:
                _say(f"Calibration events of {card.name} {card.version}: {len(evts) or 'none'}")
                for e in evts:
                    what = (f"suspicious >= {e.suspicious:.6g}, definite >= {e.definite:.6g}" if e.kind == "calibrate"
                            else "back to the card's thresholds")
                    _say(f"  #{e.id} {e.created_at:%Y-%m-%d %H:%M} UTC {e.kind} by {e.actor}: {what}")
                _say(f"Active: {C.active_thresholds(store, card).describe()}")
            return 0
        if args.revert:
            ev = C.revert(store, card, actor)
            active = C.active_thresholds(store, card)
            if args.json:
                common.print_json({"event": ev.id, "active": active.as_dict()})
            else:
                _say(f"Reverted (event #{ev.id}): {active.describe()}")
            return 0
        prop = C.propose(store, card, since)
        event = None
        if args.apply:
            try:
                event = C.apply(store, prop, actor)
            except C.CalibrationError as exc:
                raise CliError(str(exc)) from None
        if args.json:
            common.print_json({**prop.as_dict(), "applied_event": event.id if event else None})
            return 0
        _print(prop, _say)
        if event is not None:
            _say(f"Applied (event #{event.id}): {C.active_thresholds(store, card).describe()}")
        elif prop.enough:
            _say("Not applied: run again with --apply to make these thresholds active.")
    finally:
        store.close()
    return 0


def _print(prop, say) -> None:  # noqa: ANN001
    c = prop.counts
    say(f"Model {prop.model_name} {prop.model_version}; active now: {prop.current.describe()}")
    say(f"Labels: {c['fracture']} fractures, {c['no_fracture']} non-fractures ({c['doubt_excluded']} doubt, "
        f"{c['without_score_excluded']} without a score of this version excluded)")
    if not prop.enough:
        say(prop.message[0].upper() + prop.message[1:] + ".")
        return
    t = prop.thresholds
    s = prop.in_sample
    share = prop.flagged_share
    say(f"Proposed: suspicious >= {t.suspicious:.6g} (sensitivity {s['suspicious']['sensitivity']:.1%}, specificity "
        f"{s['suspicious']['specificity']:.1%} on these labels), definite >= {t.definite:.6g} (sensitivity "
        f"{s['definite']['sensitivity']:.1%}, specificity {s['definite']['specificity']:.1%})")
    if share.get("images"):
        say(f"Of the {share['images']} scored images, flagged now: {share['current']['suspicious_or_definite']:.1%} "
            f"({share['current']['definite']:.1%} definite); with the proposal: "
            f"{share['proposed']['suspicious_or_definite']:.1%} ({share['proposed']['definite']:.1%} definite)")
