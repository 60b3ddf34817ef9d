"""Settings: validated on load (a bad value falls back to its default, the others are kept), on
assignment, and saved atomically; a damaged file never stops the app."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from core.settings import MAX_RECENT, Settings


def _load(tmp_path, raw) -> Settings:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(raw) if not isinstance(raw, str) else raw, encoding="utf-8")
    return Settings.load(path)


def test_round_trip(tmp_path):
    s = Settings(reviewer="RB", db_url="sqlite:///x.db", shortcuts={"doubt": ["Q"]}, heatmap_opacity=0.3, backups_keep=2,
                 show_thumbnails=False, thumbnail_cache_mb=64)
    s.add_recent_folder("/a")
    s.save(tmp_path / "settings.json")
    assert Settings.load(tmp_path / "settings.json") == s


@pytest.mark.parametrize("raw", [{"recent_folders": [None]}, {"recent_folders": [None, 3, "", "/x"]}])
def test_recent_folders_keep_only_folder_names(tmp_path, raw):
    s = _load(tmp_path, raw)
    assert s.recent_folders == [f for f in raw["recent_folders"] if f == "/x"]
    assert all(isinstance(f, str) for f in s.recent_folders)


@pytest.mark.parametrize("field,value", [
    ("heatmap_opacity", 1e9), ("heatmap_opacity", -0.1), ("heatmap_opacity", "0.5"),
    ("backups_keep", -3), ("backups_keep", 2.5), ("backups_keep", True),
    ("reviewer", 5), ("show_thresholds", 1), ("show_thumbnails", "yes"), ("thumbnail_cache_mb", 0),
    ("thumbnail_cache_mb", 10**9), ("shortcuts", {"doubt": "Q"}), ("shortcuts", {"doubt": [None]}),
    ("recent_folders", "/not/a/list"),
])
def test_an_invalid_value_falls_back_to_its_default_and_keeps_the_rest(tmp_path, field, value):
    s = _load(tmp_path, {field: value, "reviewer" if field != "reviewer" else "db_url": "kept"})
    assert getattr(s, field) == Settings.model_fields[field].get_default(call_default_factory=True)
    assert (s.reviewer if field != "reviewer" else s.db_url) == "kept"


def test_nan_opacity_is_refused(tmp_path):
    assert _load(tmp_path, '{"heatmap_opacity": NaN}').heatmap_opacity == 0.45


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", "\x00\xff"])
def test_a_damaged_file_gives_the_defaults(tmp_path, text):
    assert _load(tmp_path, text) == Settings()


def test_missing_file_and_unknown_keys(tmp_path):
    assert Settings.load(tmp_path / "none.json") == Settings()
    assert _load(tmp_path, {"future_key": 1, "reviewer": "AB"}).reviewer == "AB"


def test_assignments_are_validated():
    s = Settings()
    with pytest.raises(ValidationError):
        s.heatmap_opacity = 3.0
    with pytest.raises(ValidationError):
        s.backups_keep = -1
    s.heatmap_opacity = 1  # an int is a valid float
    assert s.heatmap_opacity == 1.0


def test_recent_folders_most_recent_first_and_bounded():
    s = Settings()
    for i in range(MAX_RECENT + 3):
        s.add_recent_folder(f"/f{i}")
    s.add_recent_folder("/f5")
    assert s.recent_folders[0] == "/f5" and len(s.recent_folders) == MAX_RECENT
    assert s.recent_folders.count("/f5") == 1


def test_key_profile_is_typed_and_resolved_by_config(tmp_path):
    import json

    from core.config import key_profile, resolve

    assert Settings().key_profile == "default"
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"key_profile": "ohif"}), encoding="utf-8")
    s = Settings.load(path)
    assert s.key_profile == "ohif" and key_profile(s) == "ohif"
    assert resolve(settings=s, environ={}).key_profile == "ohif"
    path.write_text(json.dumps({"key_profile": "weasis", "reviewer": "dr k"}), encoding="utf-8")
    s = Settings.load(path)  # an unknown profile falls back to the default, the rest is kept
    assert s.key_profile == "default" and s.reviewer == "dr k"
