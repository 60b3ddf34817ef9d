"""Library warnings (pydicom's UserWarnings with raw header bytes, Pillow's "Corrupt EXIF data") are
captured per file into its notes, sanitised, and never printed raw on the console; ``scan -v`` shows
them on stderr."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
from pathlib import Path


from core.imaging import warn
from core.imaging.reader import read_image
from tests.core.imaging import factory

ROOT = Path(__file__).resolve().parents[3]


def _warnings(img) -> list[str]:
    return [n for n in img.notes if n.startswith(warn.PREFIX)]


def test_pydicom_warning_becomes_a_sanitised_note():
    img = read_image(factory.dicom_with_invalid_uid(), name="x.dcm")
    (note,) = _warnings(img)
    assert "Invalid value for VR UI" in note
    assert "\x81" not in note and "1.2." not in note and "http" not in note and len(note) <= 200
    assert img.meta.notes == img.notes


def test_pillow_exif_warning_becomes_a_note():
    img = read_image(factory.jpeg_with_corrupt_exif(), name="x.jpg")
    assert any("Corrupt EXIF data" in n for n in _warnings(img))
    again = read_image(factory.jpeg_with_corrupt_exif(), name="x.jpg")  # every file gets its own, not only the first
    assert _warnings(again) == _warnings(img)
    assert _warnings(read_image(factory.jpeg(), name="ok.jpg")) == []


def test_warnings_belong_to_the_file_being_decoded_in_each_thread():
    bad, good = factory.jpeg_with_corrupt_exif(), factory.jpeg()
    results: dict[int, list[str]] = {}

    def work(i: int) -> None:
        for _ in range(10):
            img = read_image(bad if i % 2 else good, name=f"{i}.jpg")
            results.setdefault(i, []).extend(_warnings(img))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, found in results.items():
        assert (len(found) == 10) if i % 2 else (found == []), (i, found)


def test_sanitise():
    s = warn.sanitise("Invalid value for VR PN: 'Doe^Jane' b'\\x81\\x82' \x00\x01 Please see "
                      "<https://dicom.nema.org/x.html#t> for allowed values for each VR." + "x" * 400)
    assert "Doe" not in s and "\\x81" not in s and "http" not in s and "\x00" not in s
    assert len(s) <= warn.MAX_CHARS


def _scan(folder: Path, tmp_path: Path, test_model: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FRACTURE_TRIAGE_HOME": str(tmp_path / "home"),
           "PYTHONWARNINGS": ""}
    code = "import sys; from core.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, "scan", str(folder), "--model", str(test_model),
                           "--no-store", "--csv", str(tmp_path / "out.csv"), "--workers", "2", *extra],
                          capture_output=True, text=True, env=env, timeout=120)


def test_scan_never_prints_raw_warnings_and_v_shows_them(tmp_path, test_model):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "uid.dcm").write_bytes(factory.dicom_with_invalid_uid())
    (folder / "exif.jpg").write_bytes(factory.jpeg_with_corrupt_exif(factory.phantom(300, 240)))
    (folder / "fine.png").write_bytes(factory.pil_bytes(__import__("PIL.Image").Image.fromarray(factory.phantom()), "PNG"))
    quiet = _scan(folder, tmp_path, test_model)
    assert quiet.returncode == 0, quiet.stderr
    for text in (quiet.stderr, quiet.stdout):
        assert "Warning" not in text and "Corrupt EXIF" not in text and "Invalid value" not in text, text
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as fh:
        notes = {Path(r["path"]).name: r["note"] for r in csv.DictReader(fh)}
    assert "decoder warning: Invalid value for VR UI" in notes["uid.dcm"]
    assert "decoder warning: Corrupt EXIF data" in notes["exif.jpg"] and notes["fine.png"] == ""
    loud = _scan(folder, tmp_path, test_model, "-v")
    assert loud.returncode == 0, loud.stderr
    assert "uid.dcm: decoder warning: Invalid value for VR UI" in loud.stderr
    assert "exif.jpg: decoder warning: Corrupt EXIF data" in loud.stderr
    assert "\x81" not in loud.stderr and "http" not in loud.stderr
    logs = list((tmp_path / "home" / "logs").glob("scan-*.log"))
    assert len(logs) == 2  # one log file per process
