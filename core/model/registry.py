"""The clinic's model registry: models added by the clinic (e.g. retrained from its exports) kept in
the user data directory (``<data>/models/NAME-VERSION.onnx`` + card), beside the shipped model(s) in
``resources/models``, which are always available and cannot be removed.

Adding verifies the card and the file's sha256 before copying (atomically, the copy re-verified).
Model versions must be unique across names, because stored predictions are keyed by version.
Which model the app uses: the path ``core.config.resolve`` found (``--model``, the environment, the
settings), else the latest 'activate' model event in the database (``resolve`` here), else the
shipped default. Activation and
removal are refused with a clear reason (unknown name, removing the active or the shipped model).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from core.model.card import ModelCard, ModelError, card_path_for, file_sha256, load_verified_card

if TYPE_CHECKING:  # pragma: no cover
    from core.store import ModelEventRow, Store


def registry_dir() -> Path:
    from core.paths import app_dirs

    return app_dirs().data / "models"


def model_key(card: ModelCard) -> str:
    return f"{card.name}-{card.version}"


@dataclass(frozen=True)
class Entry:
    key: str  # NAME-VERSION
    path: Path  # the .onnx
    card: Optional[ModelCard]
    shipped: bool
    problem: Optional[str] = None  # why it cannot be used (tampered file, unreadable card)

    @property
    def usable(self) -> bool:
        return self.card is not None and self.problem is None


@dataclass(frozen=True)
class Resolved:
    path: Path
    how: str  # where core.config found it ('flag' | 'environment' | 'settings'), or 'activated' | 'shipped'
    note: str = ""  # e.g. the activated model is missing on this computer


class Registry:
    def __init__(self, directory: Optional[Path] = None, shipped_dir: Optional[Path] = None) -> None:
        self.directory = Path(directory) if directory is not None else registry_dir()
        if shipped_dir is None:
            from core.resources import models_dir

            shipped_dir = models_dir()
        self.shipped_dir = Path(shipped_dir)

    # ------------------------------------------------------------------ listing
    def _scan(self, folder: Path, shipped: bool) -> list[Entry]:
        try:
            files = sorted(p for p in folder.glob("*.onnx") if p.is_file())
        except OSError:
            return []
        out = []
        for f in files:
            try:
                card = load_verified_card(f)
                out.append(Entry(model_key(card), f, card, shipped))
            except ModelError as exc:
                out.append(Entry(f.stem, f, None, shipped, str(exc)))
        return out

    def entries(self) -> list[Entry]:
        """Shipped models first, then the clinic's, each with its card (or the reason it is unusable)."""
        return self._scan(self.shipped_dir, True) + self._scan(self.directory, False)

    def get(self, key: str) -> Entry:
        key = (key or "").strip()
        found = [e for e in self.entries() if e.key == key]
        if not found:
            known = ", ".join(e.key for e in self.entries() if e.usable) or "none"
            raise ModelError(f"no model '{key}' in the registry (available: {known}); add it with `fracture-triage models add`")
        e = found[0]
        if not e.usable:
            raise ModelError(f"model '{key}' cannot be used: {e.problem}")
        return e

    def shipped_default(self) -> Entry:
        from core.model.runtime import find_default_model

        path = find_default_model(self.shipped_dir)
        return Entry(model_key(load_verified_card(path)), path, load_verified_card(path), True)

    # ------------------------------------------------------------------ changing
    def add(self, onnx_path: Path) -> Entry:
        """Verify ``onnx_path`` with its card beside it and copy both into the registry."""
        src = Path(onnx_path)
        if src.suffix.lower() != ".onnx":
            raise ModelError(f"{src} is not an .onnx file")
        card = load_verified_card(src)  # missing card, bad JSON, wrong preprocessing, sha256 mismatch
        key = model_key(card)
        for e in self.entries():
            if not e.usable:
                continue
            if e.key == key:
                if e.card.sha256 == card.sha256:
                    return e  # already there, same bytes
                raise ModelError(f"a different model named {key} is already in the registry ({e.path}); "
                                 "give the new one another version")
            if e.card.version == card.version:
                raise ModelError(f"version {card.version} is already used by {e.key}; predictions are stored by "
                                 "version, so every model needs its own")
        self.directory.mkdir(parents=True, exist_ok=True)
        dst = self.directory / f"{key}.onnx"
        tmp_model, tmp_card = dst.with_name(dst.name + ".part"), dst.with_suffix(".json.part")
        try:
            shutil.copyfile(src, tmp_model)
            shutil.copyfile(card_path_for(src), tmp_card)
            if file_sha256(tmp_model) != card.sha256:
                raise ModelError(f"the copy of {src} does not match its card; nothing was added")
            os.replace(tmp_card, dst.with_suffix(".json"))
            os.replace(tmp_model, dst)
        except OSError as exc:
            raise ModelError(f"cannot copy {src} into {self.directory}: {exc.strerror or exc}") from None
        finally:
            for t in (tmp_model, tmp_card):
                if t.exists():
                    t.unlink()
        return Entry(key, dst, load_verified_card(dst), False)

    def remove(self, key: str, active_key: Optional[str]) -> Entry:
        found = [e for e in self.entries() if e.key == key]
        if not found:
            raise ModelError(f"no model '{key}' in the registry")
        e = found[0]
        if e.shipped:
            raise ModelError(f"{key} is shipped with the app and always stays available")
        if key == active_key:
            raise ModelError(f"{key} is the active model; activate another one before removing it")
        for p in (e.path, card_path_for(e.path)):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise ModelError(f"cannot remove {p}: {exc.strerror or exc}") from None
        return e

    # ------------------------------------------------------------------ activation (model events)
    def activate(self, store: "Store", key: str, actor: str) -> "ModelEventRow":
        e = self.get(key)
        return store.record_model_event("activate", e.card.name, e.card.version, actor,
                                        basis={"sha256": e.card.sha256, "shipped": e.shipped})

    def activated(self, store: Optional["Store"]) -> Optional["ModelEventRow"]:
        if store is None:
            return None
        try:
            return store.latest_model_event(("activate",))
        except Exception:  # noqa: BLE001 - an unreadable database never stops the app choosing a model
            return None

    def resolve(self, explicit: Optional[Path] = None, source: str = "flag",
                store: Optional["Store"] = None) -> Resolved:
        """Which model file to use (see the module docstring); the file itself is verified on load.
        ``explicit``/``source``: ``RunConfig.model_path``/``model_source`` from ``core.config.resolve``."""
        if explicit:
            return Resolved(Path(explicit), source)
        ev = self.activated(store)
        if ev is not None:
            key = f"{ev.model_name}-{ev.model_version}"
            try:
                return Resolved(self.get(key).path, "activated")
            except ModelError as exc:
                return Resolved(self.shipped_default().path, "shipped",
                                f"the activated model {key} is not usable on this computer ({exc}); using the shipped one")
        return Resolved(self.shipped_default().path, "shipped")

    def active_key(self, store: Optional["Store"], explicit: Optional[Path] = None) -> Optional[str]:
        try:
            path = self.resolve(explicit, "flag", store).path
            return model_key(load_verified_card(path))
        except ModelError:
            return None
