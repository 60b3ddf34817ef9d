"""Typed user settings in one place, persisted as JSON in the platform's config directory.

Unknown keys in the file are ignored, wrong types fall back to the default (a damaged settings file
never stops the app), and writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.fileio import atomic_write
from core.paths import app_dirs


@dataclass
class Settings:
    reviewer: str = ""
    db_url: str = ""  # empty: the default database in the user data directory
    model_path: str = ""  # empty: the model shipped in resources/models
    recent_folders: list[str] = field(default_factory=list)
    shortcuts: dict[str, list[str]] = field(default_factory=dict)  # action name -> key sequences (overrides)
    show_thresholds: bool = True
    heatmap_opacity: float = 0.45
    window_geometry: str = ""  # Qt saveGeometry() as hex
    window_state: str = ""
    backups_keep: int = 7

    MAX_RECENT = 10

    def add_recent_folder(self, folder: str) -> None:
        folder = str(folder)
        self.recent_folders = [folder] + [f for f in self.recent_folders if f != folder]
        del self.recent_folders[self.MAX_RECENT :]

    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        path = path or app_dirs().settings_file
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(raw, dict):
            return cls()
        s = cls()
        for f in fields(cls):
            if f.name in raw:
                value = raw[f.name]
                default = getattr(s, f.name)
                if isinstance(default, bool) != isinstance(value, bool):
                    continue
                if isinstance(default, float) and isinstance(value, int):
                    value = float(value)
                if type(value) is type(default):
                    setattr(s, f.name, value)
        return s

    def save(self, path: Path | None = None) -> None:
        with atomic_write(path or app_dirs().settings_file) as fh:
            json.dump(asdict(self), fh, indent=2, ensure_ascii=False)
