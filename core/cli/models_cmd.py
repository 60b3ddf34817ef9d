"""``fracture-triage models add|list|activate|remove|compare``: the clinic's model registry
(``core.model.registry``) and the shadow test of a candidate on the confirmed labels
(``core.evaluation.compare``). Activation is a recorded model event."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import CliError, common


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("models", help="add, list, activate, remove and compare models",
                       description="The shipped model is always available; models added here (an .onnx with "
                       "its JSON card beside it, sha256 verified) are copied into the user data folder.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    a = msub.add_parser("add", help="verify FILE.onnx and its card and copy them into the registry")
    a.add_argument("file", type=Path, metavar="FILE.onnx")
    a.set_defaults(func=run_add)
    ls = msub.add_parser("list", help="list the models, the active one marked")
    common.add_db_argument(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    act = msub.add_parser("activate", help="make NAME-VERSION the model the app uses (recorded)")
    act.add_argument("key", metavar="NAME-VERSION")
    act.add_argument("--by", metavar="NAME", help="who switches (default: the reviewer in the settings)")
    common.add_db_argument(act)
    act.set_defaults(func=run_activate)
    rm = msub.add_parser("remove", help="remove an added model (never the shipped or the active one)")
    rm.add_argument("key", metavar="NAME-VERSION")
    common.add_db_argument(rm)
    rm.set_defaults(func=run_remove)
    cmp_ = msub.add_parser("compare", help="score the confirmed-label images with a candidate and compare it "
                           "with the model in use (the worklist is not touched)")
    cmp_.add_argument("candidate", metavar="CANDIDATE", help="NAME-VERSION in the registry, or a path to an .onnx")
    common.add_db_argument(cmp_)
    common.add_model_argument(cmp_)
    cmp_.add_argument("--json", action="store_true")
    cmp_.set_defaults(func=run_compare)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _registry():
    from core.model.registry import Registry

    return Registry()


def run_add(args: argparse.Namespace) -> int:
    from core.model import ModelError

    try:
        e = _registry().add(args.file)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    print(f"added {e.key} ({e.path}); activate it with `fracture-triage models activate {e.key}`")
    return 0


def _active_key(reg, store, args) -> str | None:  # noqa: ANN001
    return reg.active_key(store, common.config_from(args).model_path)


def run_list(args: argparse.Namespace) -> int:
    reg = _registry()
    store = common.open_store_from(args)
    try:
        active = _active_key(reg, store, args)
        ev = reg.activated(store)
    finally:
        store.close()
    entries = reg.entries()
    if args.json:
        common.print_json([{"key": e.key, "path": str(e.path), "shipped": e.shipped, "usable": e.usable,
                            "problem": e.problem, "active": e.key == active} for e in entries])
        return 0
    for e in entries:
        mark = "*" if e.key == active else " "
        where = "shipped" if e.shipped else "added"
        print(f"{mark} {e.key:<28} {where:<8} {e.path}" + (f"  UNUSABLE: {e.problem}" if e.problem else ""))
    if ev is not None:
        print(f"(* active; activated by {ev.actor} on {ev.created_at:%Y-%m-%d %H:%M} UTC)")
    else:
        print("(* active: the shipped model; nothing activated in this database)")
    return 0


def run_activate(args: argparse.Namespace) -> int:
    from core.model import ModelError

    actor = common.who(args)
    store = common.open_store_from(args)
    try:
        ev = _registry().activate(store, args.key, actor)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    print(f"activated {ev.model_name}-{ev.model_version} (event #{ev.id}); the app and `scan` use it from now on")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from core.model import ModelError

    reg = _registry()
    store = common.open_store_from(args)
    try:
        e = reg.remove(args.key, _active_key(reg, store, args))
    except ModelError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    print(f"removed {e.key} ({e.path}); its stored predictions stay in the database")
    return 0


def candidate_path(reg, text: str) -> Path:  # noqa: ANN001
    p = Path(text)
    if p.suffix.lower() == ".onnx" or p.exists():
        return p
    return reg.get(text).path


def run_compare(args: argparse.Namespace) -> int:
    from core.cli.scan_cmd import _Progress, _say
    from core.evaluation.compare import compare, score_labelled, text_lines
    from core.model import ModelError, load_model

    reg = _registry()
    store = common.open_store_from(args)
    progress = _Progress(sys.stderr)
    try:
        current, _res = common.current_card(args, store, reg)
        try:
            cand = load_model(candidate_path(reg, args.candidate))
            cand.ensure_session()
        except ModelError as exc:
            raise CliError(f"cannot use the candidate: {exc}") from None
        try:
            scoring = score_labelled(store, cand, on_progress=progress)
        except ModelError as exc:
            raise CliError(f"the candidate failed: {exc}") from None
        finally:
            progress.close()
        rep = compare(store, current, cand.card, scoring=scoring)
    finally:
        store.close()
    if args.json:
        common.print_json(rep)
    else:
        for line in text_lines(rep):
            _say(line)
    return 0
