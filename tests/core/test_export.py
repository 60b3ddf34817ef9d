"""Export for retraining: labels.csv/labels.json contents and filters, the ImageFolder layout of
PNGs, atomicity (nothing at the destination after a failure), and privacy (no patient identifier,
file name or note anywhere in the export's bytes)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.export import COLUMNS, ExportCancelled, ExportError, export_labels, pseudonym
from core.results import DicomMeta, ImageMeta, ScanItem
from tests.core.store.helpers import Thresholds, fake_id, fill, open_test_store

PATIENT_NAME = "Lindqvist^Astrid"
PATIENT_ID = "PID-77341902"
BIRTH_DATE = "19580214"
SECRETS = [PATIENT_NAME, PATIENT_ID, BIRTH_DATE, "Lindqvist", "Astrid", "77341902"]


def _dicom(path: Path, seed: int, body_part: str = "WRIST") -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = PATIENT_NAME, PATIENT_ID, BIRTH_DATE
    ds.InstitutionName = "Lindqvist Clinic"
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "DX", body_part, "PA"
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 4000, size=(40, 32), dtype=np.uint16)
    ds.Rows, ds.Columns = px.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2000, 4000
    ds.PixelData = px.tobytes()
    ds.save_as(path, enforce_file_format=True)


def _jpeg_with_exif(path: Path) -> None:
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (30, 40), dtype=np.uint8), "L")
    exif = Image.Exif()
    exif[0x010E] = f"Patient {PATIENT_NAME} {PATIENT_ID}"  # ImageDescription
    img.save(path, format="JPEG", exif=exif.tobytes())


def _png_with_text(path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", f"{PATIENT_NAME} born {BIRTH_DATE}")
    Image.fromarray(np.full((20, 30), 128, np.uint8), "L").save(path, pnginfo=info)


def _scanned(path: Path, prob: float, fmt: str, body_part=None) -> ScanItem:
    data = path.read_bytes()
    dicom = DicomMeta(modality="DX", body_part=body_part, view_position="PA") if body_part else None
    return ScanItem(
        path=path, size=len(data), mtime_ns=path.stat().st_mtime_ns, status="scored",
        image_id=hashlib.sha256(data).hexdigest(), probability=prob, model_version="m1",
        meta=ImageMeta(32, 40, fmt, (), dicom),
    )


@pytest.fixture
def clinic(tmp_path):
    root = tmp_path / f"{PATIENT_NAME} {PATIENT_ID}"  # identifiers in folder and file names too
    root.mkdir()
    _dicom(root / f"{PATIENT_ID}_wrist.dcm", 1)
    _dicom(root / "second.dcm", 2, "HAND")
    _jpeg_with_exif(root / f"{PATIENT_NAME}.jpg")
    _png_with_text(root / "plain.png")
    items = [
        _scanned(root / f"{PATIENT_ID}_wrist.dcm", 0.92, "DICOM", "WRIST"),
        _scanned(root / "second.dcm", 0.12, "DICOM", "HAND"),
        _scanned(root / f"{PATIENT_NAME}.jpg", 0.55, "JPEG"),
        _scanned(root / "plain.png", 0.05, "PNG"),
    ]
    store = open_test_store(tmp_path)
    store.record_scan_results(root, items)
    ids = [i.image_id for i in items]
    store.record_decision(ids[0], "dr a", "fracture", model_version="m1", probability=0.92, note=f"{PATIENT_NAME} fell")
    store.record_decision(ids[1], "dr a", "fracture", model_version="m1", probability=0.12)
    store.record_decision(ids[2], "dr b", "doubt", model_version="m1", probability=0.55)
    store.record_decision(ids[3], "dr b", "no_fracture", model_version="m1", probability=0.05)
    yield store, ids, tmp_path
    store.close()


def _all_bytes(folder: Path) -> bytes:
    out = []
    for p in sorted(folder.rglob("*")):
        out.append(str(p.relative_to(folder)).encode())
        if p.is_file():
            out.append(p.read_bytes())
    return b"\n".join(out)


def test_export_with_images_has_no_patient_identifiers(clinic):
    store, ids, tmp = clinic
    out = tmp / "export"
    summary = export_labels(store, out, images=True, thresholds=Thresholds(0.3, 0.7))
    assert summary.rows == 4 and summary.images_written == 4 and not summary.missing
    blob = _all_bytes(out)
    for secret in SECRETS + ["Lindqvist Clinic", "wrist.dcm", "fell"]:
        for enc in ("utf-8", "utf-16-le"):
            assert secret.encode(enc) not in blob, f"{secret!r} leaked into the export"
    for png in out.rglob("*.png"):
        with Image.open(png) as im:
            assert im.format == "PNG" and im.mode == "L"
            assert not im.info.get("exif") and not any(isinstance(v, str) for v in im.info.values())
        assert b"tEXt" not in png.read_bytes() and b"eXIf" not in png.read_bytes()


def test_labels_csv_and_json(clinic):
    store, ids, tmp = clinic
    out = tmp / "export"
    export_labels(store, out, images=True, thresholds=Thresholds(0.3, 0.7))
    assert sorted(p.name for p in out.iterdir()) == ["doubt", "fracture", "labels.csv", "labels.json",
                                                     "labels_by_reader.csv", "no_fracture"]
    rows = list(csv.DictReader(io.StringIO((out / "labels.csv").read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == COLUMNS
    secret = store.pseudonym_secret()
    by_id = {r["image_id"]: r for r in rows}
    r0 = by_id[pseudonym(secret, ids[0])]
    assert r0["label"] == "fracture" and r0["file"] == f"fracture/{r0['image_id']}.png"
    assert r0["model_flag"] == "definite" and r0["agrees_with_model"] == "yes" and r0["body_part"] == "WRIST"
    assert r0["reviewer"] == "dr a" and r0["probability"] == "0.920000" and r0["model_version"] == "m1"
    assert datetime.fromisoformat(r0["decided_at"].replace("Z", "+00:00")).tzinfo is not None
    r1 = by_id[pseudonym(secret, ids[1])]
    assert r1["model_flag"] == "none" and r1["agrees_with_model"] == "no"
    assert by_id[pseudonym(secret, ids[2])]["agrees_with_model"] == ""  # doubt
    for r in rows:
        assert (out / r["file"]).is_file() and ids[0] not in r["image_id"]
    doc = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    assert doc["rows"] == rows
    h = doc["header"]
    assert h["counts"] == {"fracture": 2, "no_fracture": 1, "doubt": 1}
    assert h["model_versions"] == ["m1"] and h["filters"]["images"] is True and h["app_version"]
    # DICOM written as the windowed 8-bit display image, at full size
    with Image.open(out / r0["file"]) as im:
        assert im.size == (32, 40)


def test_reference_label_and_labels_by_reader(clinic):
    from core.export import READER_COLUMNS

    store, ids, tmp = clinic
    store.record_decision(ids[0], "dr c", "fracture", reading_mode="blinded", shown_ms=3500)  # agrees
    store.record_decision(ids[1], "dr c", "no_fracture")  # dr a said fracture: disputed
    out = tmp / "export"
    export_labels(store, out)
    secret = store.pseudonym_secret()
    rows = {r["image_id"]: r for r in csv.DictReader(io.StringIO((out / "labels.csv").read_text()))}
    r0, r1 = rows[pseudonym(secret, ids[0])], rows[pseudonym(secret, ids[1])]
    assert (r0["reference_label"], r0["reference_source"], r0["readers"]) == ("fracture", "agreed", "2")
    assert (r1["reference_label"], r1["reference_source"]) == ("", "disputed")
    assert rows[pseudonym(secret, ids[3])]["reference_source"] == "single"
    per = list(csv.DictReader(io.StringIO((out / "labels_by_reader.csv").read_text())))
    assert tuple(per[0]) == READER_COLUMNS and len(per) == 6  # 4 images, two of them read twice
    c0 = next(r for r in per if r["reader"] == "dr c" and r["image_id"] == r0["image_id"])
    assert (c0["label"], c0["reading_mode"], c0["time_to_decision_s"], c0["role"]) == ("fracture", "blinded", "3.500", "reader")
    assert "dr a" in {r["reader"] for r in per} and not any(ids[0] in r["image_id"] for r in per)


def test_filters_reviewer_since_labels(clinic):
    store, ids, tmp = clinic
    s = export_labels(store, tmp / "e1", reviewer="dr b")
    assert s.counts == {"fracture": 0, "no_fracture": 1, "doubt": 1}
    s = export_labels(store, tmp / "e2", labels=["fracture"])
    assert s.counts == {"fracture": 2} and s.rows == 2
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    assert export_labels(store, tmp / "e3", since=tomorrow).rows == 0
    assert export_labels(store, tmp / "e4", since=date(2000, 1, 1)).rows == 4
    rows = list(csv.DictReader(io.StringIO((tmp / "e1" / "labels.csv").read_text())))
    assert {r["file"] for r in rows} == {""}  # no images without --images
    with pytest.raises(ExportError):
        export_labels(store, tmp / "e5", labels=["maybe"])


def test_export_is_atomic_and_refuses_non_empty_destination(clinic, monkeypatch):
    store, ids, tmp = clinic
    out = tmp / "export"
    import core.export as ex

    calls = []

    def failing(data, name):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk unplugged")
        return b"\x89PNG fake"

    monkeypatch.setattr(ex, "_png_bytes", failing)
    with pytest.raises(OSError):
        export_labels(store, out, images=True)
    assert not out.exists()
    assert [p.name for p in tmp.iterdir() if p.name.startswith(".export")] == []
    monkeypatch.undo()

    cancel = threading.Event()
    with pytest.raises(ExportCancelled):
        export_labels(store, out, images=True, cancel=cancel, on_progress=lambda done, total: cancel.set())
    assert not out.exists()

    out.mkdir()  # an empty folder is fine
    export_labels(store, out)
    with pytest.raises(ExportError, match="not empty"):
        export_labels(store, out)
    (out / "mine.txt").write_text("keep")
    export_labels(store, out, images=True, force=True)
    assert not (out / "mine.txt").exists() and (out / "fracture").is_dir()


def test_missing_or_changed_files_are_reported(tmp_path):
    store = open_test_store(tmp_path)
    fill(store, tmp_path, [0.5])  # fake ids: the files do not exist
    store.record_decision(fake_id(0), "r", "fracture")
    s = export_labels(store, tmp_path / "out", images=True)
    assert s.rows == 1 and s.images_written == 0 and len(s.missing) == 1 and "no longer readable" in s.missing[0]
    assert not (tmp_path / "out" / "fracture").exists()
    store.close()


def test_cli_export(clinic, capsys):
    import argparse

    from core.cli import export_cmd

    store, ids, tmp = clinic
    parser = argparse.ArgumentParser()
    export_cmd.register(parser.add_subparsers())
    url = f"sqlite:///{tmp / 'labels.db'}"
    args = parser.parse_args(["export", "--db", url, "--out", str(tmp / "cli"), "--images", "--labels", "fracture",
                              "--since", "2020-01-01"])
    assert args.func(args) == 0
    assert "exported 2 labels" in capsys.readouterr().out
    assert len(list((tmp / "cli" / "fracture").iterdir())) == 2
    from core.cli import CliError

    args = parser.parse_args(["export", "--db", url, "--out", str(tmp / "cli")])
    with pytest.raises(CliError, match="not empty"):
        args.func(args)
