"""Typed user settings in one place, validated by a pydantic model and persisted as JSON in the
platform's config directory (``settings.json``).

Loading never stops the app: a missing or unreadable file gives the defaults, unknown keys are
ignored, and a value that fails validation (wrong type, out of range — e.g. ``heatmap_opacity: 1e9``,
``backups_keep: -3``) falls back to that field's default with a warning in the log; non-text entries
in ``recent_folders`` are dropped. Assignments are validated too, and writes are atomic (temp file +
rename). Which database and model a run uses is decided by ``core.config``, not here.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.fileio import atomic_write
from core.paths import app_dirs

log = logging.getLogger(__name__)

MAX_RECENT = 10
KEY_PROFILES = ("default", "ohif")  # the app's own keys; OHIF Viewer's defaults (desktop.shortcuts)


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, validate_assignment=True, allow_inf_nan=False)

    reviewer: str = ""  # the reader at this workstation (their role and the clinic's policy are in the database)
    reading_mode: Literal["aided", "blinded"] = "aided"  # core.reading: blinded hides the model
    db_url: str = ""  # empty: the default database in the user data directory
    model_path: str = ""  # empty: the model shipped in resources/models
    recent_folders: list[str] = Field(default_factory=list)
    shortcuts: dict[str, list[str]] = Field(default_factory=dict)  # action name -> key sequences (overrides)
    key_profile: Literal["default", "ohif"] = "default"  # the key table the overrides apply to (core.config)
    show_thresholds: bool = True
    heatmap_opacity: float = Field(default=0.45, ge=0.0, le=1.0)
    window_geometry: str = ""  # Qt saveGeometry() as hex
    window_state: str = ""
    backups_keep: int = Field(default=7, ge=0, le=3650)  # daily database backups kept; 0: none
    show_thumbnails: bool = True  # worklist thumbnails (off: none are made or shown)
    thumbnail_cache_mb: int = Field(default=512, ge=16, le=100_000)  # local thumbnail cache bound (core.thumbnails)
    # studies (core.studies): how non-DICOM files are grouped, the study score, and whether the
    # worklist lists studies (True) or images
    study_grouping: Literal["folder", "name_prefix", "file"] = "folder"
    study_score: Literal["max", "noisy_or"] = "max"
    worklist_by_study: bool = False

    MAX_RECENT: ClassVar[int] = MAX_RECENT

    @field_validator("recent_folders", mode="before")
    @classmethod
    def _only_folder_names(cls, value: Any) -> Any:
        """Keep the usable entries of a list (non-empty text, first occurrence, at most MAX_RECENT)."""
        if not isinstance(value, list):
            return value
        out: list[str] = []
        for v in value:
            if isinstance(v, str) and v.strip() and v not in out:
                out.append(v)
        return out[:MAX_RECENT]

    def add_recent_folder(self, folder: str) -> None:
        folder = str(folder)
        self.recent_folders = [folder] + [f for f in self.recent_folders if f != folder]

    @classmethod
    def from_dict(cls, raw: Any) -> "Settings":
        """Settings from decoded JSON: every valid field kept, every invalid one back to its default."""
        if not isinstance(raw, dict):
            if raw is not None:
                log.warning("settings file is not a JSON object; using the defaults")
            return cls()
        values = {k: v for k, v in raw.items() if k in cls.model_fields}
        for _ in range(len(cls.model_fields) + 1):
            try:
                return cls.model_validate(values)
            except ValidationError as exc:
                bad = {err["loc"][0] for err in exc.errors() if err.get("loc")}
                if not bad & values.keys():  # pragma: no cover - every error names a field
                    break
                for name in sorted(bad & values.keys()):
                    log.warning("settings: %s is not valid (%s); using the default", name,
                                next(e["msg"] for e in exc.errors() if e.get("loc") and e["loc"][0] == name))
                    del values[name]
        return cls()

    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        path = path or app_dirs().settings_file
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("settings file %s cannot be read (%s); using the defaults", path, type(exc).__name__)
            return cls()
        return cls.from_dict(raw)

    def save(self, path: Path | None = None) -> None:
        with atomic_write(path or app_dirs().settings_file) as fh:
            json.dump(self.model_dump(mode="json"), fh, indent=2, ensure_ascii=False)
