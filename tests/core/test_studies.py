"""core.studies: the grouping rule, the pseudonymous key, the study score and label (no store, no Qt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.studies import StudyKeys, name_prefix, study_key, study_label, study_score, study_source

SECRET = bytes(range(32))


def test_dicom_images_group_by_study_uid_whatever_their_folder():
    a = study_source(Path("/xr/one/a.dcm"), "1.2.840.1", "folder")
    b = study_source(Path("/xr/two/b.dcm"), "1.2.840.1", "file")
    assert a == b == ("dicom", "dicom:1.2.840.1")
    assert study_source(Path("/xr/two/c.dcm"), "1.2.840.2")[1] != a[1]


def test_plain_files_group_by_the_setting():
    p, q = Path("/xr/smith_john/0042_AP.jpg"), Path("/xr/smith_john/0042_LAT.jpg")
    r = Path("/xr/smith_john/0043 AP.png")
    assert study_source(p, None, "folder") == study_source(r, None, "folder") == ("folder", "folder:/xr/smith_john")
    assert study_source(p, None, "name_prefix") == study_source(q, None, "name_prefix")
    assert study_source(p, None, "name_prefix") != study_source(r, None, "name_prefix")
    assert study_source(p, None, "file") != study_source(q, None, "file")
    assert study_source(p, "", "folder")[0] == "folder"  # an empty UID is no UID
    with pytest.raises(ValueError, match="unknown study grouping"):
        study_source(p, None, "patient")


@pytest.mark.parametrize("name, prefix", [("0042_AP.jpg", "0042"), ("IMG-12-lat.png", "IMG-12"), ("knee.png", "knee"),
                                          ("_AP.jpg", "_AP"), ("a b c.tif", "a b")])
def test_name_prefix(name, prefix):
    assert name_prefix(name) == prefix


def test_key_is_keyed_short_and_names_nothing():
    keys = StudyKeys(SECRET, "folder")
    k = keys.key(Path("/xr/smith_john/a.jpg"))
    assert len(k) == 12 and all(c in "0123456789abcdef" for c in k)
    assert k == keys.key(Path("/xr/smith_john/b.jpg")) == study_key(SECRET, "folder:/xr/smith_john")
    assert "smith" not in k and k != StudyKeys(bytes(32), "folder").key(Path("/xr/smith_john/a.jpg"))
    uid = "1.2.840.113619.2.55.3"
    assert uid not in StudyKeys(SECRET).key(Path("/x.dcm"), uid)
    assert keys.of(Path("/x.dcm"), uid)[1] == "dicom" and keys.of(Path("/y/z.jpg"))[1] == "folder"


def test_study_score_max_and_noisy_or():
    assert study_score([0.2, None, 0.7, float("nan")]) == 0.7
    assert study_score([None]) is None and study_score([]) is None
    assert study_score([0.5, 0.5], "noisy_or") == pytest.approx(0.75)
    assert study_score([0.9], "noisy_or") == pytest.approx(0.9)
    with pytest.raises(ValueError, match="unknown study score"):
        study_score([0.1], "mean")


@pytest.mark.parametrize("labels, expected", [
    (["fracture", None], "fracture"),  # a fracture on one view decides the study
    (["no_fracture", None], None),
    (["no_fracture", "no_fracture"], "no_fracture"),
    (["no_fracture", "doubt"], "doubt"),
    ([], None),
])
def test_study_label(labels, expected):
    assert study_label(labels) == expected


def test_grouping_setting_is_typed_and_resolved_by_config():
    from core.config import DEFAULT, ENVIRONMENT, FLAG, SETTINGS, resolve
    from core.settings import Settings

    assert Settings.from_dict({"study_grouping": "patient", "study_score": "mean"}).study_grouping == "folder"
    assert Settings.from_dict({"study_score": "mean"}).study_score == "max"
    s = Settings.from_dict({"study_grouping": "name_prefix", "study_score": "noisy_or"})
    assert (s.study_grouping, s.study_score) == ("name_prefix", "noisy_or")
    cfg = resolve(settings=s, environ={})
    assert (cfg.study_grouping, cfg.study_grouping_source, cfg.study_score) == ("name_prefix", SETTINGS, "noisy_or")
    cfg = resolve(settings=s, environ={"FRACTURE_TRIAGE_STUDY_GROUPING": "file"})
    assert (cfg.study_grouping, cfg.study_grouping_source) == ("file", ENVIRONMENT)
    cfg = resolve(study_grouping="folder", settings=s, environ={"FRACTURE_TRIAGE_STUDY_GROUPING": "file"})
    assert (cfg.study_grouping, cfg.study_grouping_source) == ("folder", FLAG)
    cfg = resolve(settings=s, environ={"FRACTURE_TRIAGE_STUDY_GROUPING": "bogus"})  # ignored, logged
    assert cfg.study_grouping == "name_prefix"
    with pytest.raises(ValueError):
        resolve(study_grouping="bogus", settings=s, environ={})
    assert DEFAULT == "default"
