"""Which database, model, backup policy and key profile a run uses — decided here, once, for every
entry point (the desktop app, ``scan``, ``info``, ``export``, ``import-labels``).

Each choice is resolved in one order: the command-line flag, then the environment
(``FRACTURE_TRIAGE_DB``, ``FRACTURE_TRIAGE_MODEL``), then ``settings.json`` (``db_url``,
``model_path``), then the default (the database in the user data folder; the model installed with the
app). ``RunConfig`` records the value and where it came from, so ``info`` can say so. The key
profile (``key_profile``) comes from ``settings.json`` only (``default`` when unset or unknown).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from core.paths import default_db_url
from core.settings import KEY_PROFILES, Settings

ENV_DB = "FRACTURE_TRIAGE_DB"
ENV_MODEL = "FRACTURE_TRIAGE_MODEL"

FLAG, ENVIRONMENT, SETTINGS, DEFAULT = "flag", "environment", "settings", "default"


@dataclass(frozen=True)
class RunConfig:
    settings: Settings
    db_url: str
    db_source: str  # FLAG | ENVIRONMENT | SETTINGS | DEFAULT
    model_path: Optional[Path]  # None: the model installed with the app (``core.model.find_default_model``)
    model_source: str

    @property
    def backups_keep(self) -> int:
        return self.settings.backups_keep

    @property
    def key_profile(self) -> str:
        return key_profile(self.settings)


def key_profile(settings: Settings) -> str:
    """The key table in force: ``settings.key_profile`` (one of ``KEY_PROFILES``), else ``default``."""
    value = getattr(settings, "key_profile", "default")
    return value if value in KEY_PROFILES else "default"


def _first(flag: object, env_value: Optional[str], setting: str) -> tuple[Optional[str], str]:
    for value, source in ((flag, FLAG), (env_value, ENVIRONMENT), (setting, SETTINGS)):
        text = "" if value is None else str(value).strip()
        if text:
            return text, source
    return None, DEFAULT


def resolve(
    *,
    db: Optional[str] = None,
    model: Optional[str | Path] = None,
    settings: Optional[Settings] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> RunConfig:
    """The run's choices from the flags given (None: not given), the environment and the settings
    (None: ``Settings.load()`` from the config directory)."""
    settings = Settings.load() if settings is None else settings
    env = os.environ if environ is None else environ
    db_url, db_source = _first(db, env.get(ENV_DB), settings.db_url)
    model_text, model_source = _first(model, env.get(ENV_MODEL), settings.model_path)
    return RunConfig(
        settings=settings,
        db_url=db_url or default_db_url(),
        db_source=db_source,
        model_path=Path(model_text).expanduser() if model_text else None,
        model_source=model_source,
    )
