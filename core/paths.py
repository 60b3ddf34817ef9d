"""Where the app keeps its data: the platform's per-user directories (platformdirs), never next to
the executable. One place so the CLI, the desktop app and the frozen bundle agree.

``FRACTURE_TRIAGE_HOME`` moves everything under one folder (tests, portable use).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "FRACTURE_TRIAGE_HOME"
_APP = "fracture-triage"


@dataclass(frozen=True)
class AppDirs:
    data: Path  # database, backups
    config: Path  # settings.json
    logs: Path
    cache: Path  # thumbnails (``core.thumbnails``): this computer only, safe to delete

    @property
    def database(self) -> Path:
        return self.data / "fracture-triage.sqlite3"

    @property
    def backups(self) -> Path:
        return self.data / "backups"

    @property
    def thumbnails(self) -> Path:
        return self.cache / "thumbnails"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"


def app_dirs() -> AppDirs:
    home = os.environ.get(ENV_HOME)
    if home:
        base = Path(home)
        return AppDirs(data=base / "data", config=base / "config", logs=base / "logs", cache=base / "cache")
    import platformdirs

    return AppDirs(
        data=Path(platformdirs.user_data_dir(_APP, appauthor=False)),
        config=Path(platformdirs.user_config_dir(_APP, appauthor=False)),
        logs=Path(platformdirs.user_log_dir(_APP, appauthor=False)),
        cache=Path(platformdirs.user_cache_dir(_APP, appauthor=False)),
    )


def default_db_url() -> str:
    return "sqlite:///" + str(app_dirs().database)
