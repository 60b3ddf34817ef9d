"""Which database, model, backup policy, key profile and study rules a run uses — decided here, once,
for every entry point (the desktop app, ``scan``, ``info``, ``export``, ``import-labels``).

Each choice is resolved in one order: the command-line flag, then the environment
(``FRACTURE_TRIAGE_DB``, ``FRACTURE_TRIAGE_MODEL``, ``FRACTURE_TRIAGE_STUDY_GROUPING``), then
``settings.json`` (``db_url``, ``model_path``, ``study_grouping``), then the default (the database in the
user data folder; the model installed with the app; one study per folder). ``RunConfig`` records the
value and where it came from, so ``info`` can say so. An unknown study grouping from the environment is
ignored with a warning in the log (a flag is checked by its parser; the settings by their model). The key
profile (``key_profile``) comes from ``settings.json`` only (``default`` when unset or unknown).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from core.paths import default_db_url
from core.settings import KEY_PROFILES, Settings
from core.studies import GROUPINGS

ENV_DB = "FRACTURE_TRIAGE_DB"
ENV_MODEL = "FRACTURE_TRIAGE_MODEL"
ENV_STUDY_GROUPING = "FRACTURE_TRIAGE_STUDY_GROUPING"
log = logging.getLogger(__name__)

FLAG, ENVIRONMENT, SETTINGS, DEFAULT = "flag", "environment", "settings", "default"


@dataclass(frozen=True)
class RunConfig:
    settings: Settings
    db_url: str
    db_source: str  # FLAG | ENVIRONMENT | SETTINGS | DEFAULT
    model_path: Optional[Path]  # None: the model installed with the app (``core.model.find_default_model``)
    model_source: str
    study_grouping: str = "folder"  # core.studies.GROUPINGS: how files other than DICOM form studies
    study_grouping_source: str = DEFAULT
    study_score: str = "max"  # core.studies.SCORE_METHODS (settings only)

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
    study_grouping: Optional[str] = None,
    settings: Optional[Settings] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> RunConfig:
    """The run's choices from the flags given (None: not given), the environment and the settings
    (None: ``Settings.load()`` from the config directory)."""
    settings = Settings.load() if settings is None else settings
    env = os.environ if environ is None else environ
    db_url, db_source = _first(db, env.get(ENV_DB), settings.db_url)
    model_text, model_source = _first(model, env.get(ENV_MODEL), settings.model_path)
    env_grouping = (env.get(ENV_STUDY_GROUPING) or "").strip()
    if env_grouping and env_grouping not in GROUPINGS:
        log.warning("%s=%r is not a study grouping (%s); ignored", ENV_STUDY_GROUPING, env_grouping, ", ".join(GROUPINGS))
        env_grouping = ""
    if study_grouping is not None and study_grouping not in GROUPINGS:
        raise ValueError(f"unknown study grouping {study_grouping!r}; one of {', '.join(GROUPINGS)}")
    grouping, grouping_source = _first(study_grouping, env_grouping, settings.study_grouping)
    return RunConfig(
        settings=settings,
        db_url=db_url or default_db_url(),
        db_source=db_source,
        model_path=Path(model_text).expanduser() if model_text else None,
        model_source=model_source,
        study_grouping=grouping or "folder",
        study_grouping_source=grouping_source,
        study_score=settings.study_score,
    )
