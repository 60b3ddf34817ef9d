"""What the clinic-loop subcommands (performance, calibrate, models) share: opening the database as
``core.config.resolve`` decides (flag > environment > settings > default) and finding the model in use
(``core.config``'s model path, else the activated model, else the shipped one)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

from core.cli import CliError


def add_db_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="database URL (default: the settings' database, else the one in "
                   "the user data folder)")


def add_model_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH", type=Path, help="ONNX model with its card (default: the settings' "
                   "model, else the activated one, else the shipped one)")


def config_from(args: argparse.Namespace):
    from core.config import resolve

    return resolve(db=getattr(args, "db", None), model=getattr(args, "model", None))


def open_store_from(args: argparse.Namespace):
    from core.store import StoreError, open_store

    config = config_from(args)
    try:
        return open_store(config.db_url, backups_keep=config.backups_keep)
    except StoreError as exc:
        raise CliError(f"cannot use the database: {exc}") from None


def current_card(args: argparse.Namespace, store, registry=None):
    """The verified card of the model in use, and how it was chosen (a note when it fell back)."""
    from core.model import ModelError, load_verified_card
    from core.model.registry import Registry

    registry = registry or Registry()
    config = config_from(args)
    try:
        res = registry.resolve(config.model_path, config.model_source, store)
        return load_verified_card(res.path), res
    except ModelError as exc:
        raise CliError(f"cannot use the model: {exc}") from None


def print_json(obj) -> None:
    import json
    import sys

    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def who(args: argparse.Namespace) -> str:
    from core.settings import Settings

    name = (getattr(args, "by", None) or Settings.load().reviewer or "").strip()
    if not name:
        raise CliError("say who makes this change: --by NAME (or set the reviewer name in the app's settings)")
    return name


def since_arg(text: Optional[str]):
    from core.evaluation.labelled import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None
