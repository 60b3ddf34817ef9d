"""The export's ``study`` column (pseudonymous, the worklist's key) and the training listing that
uses it as the cross-validation group; the scan CSV's ``study`` column."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from core.export import COLUMNS, export_labels
from core.results import DicomMeta, ImageMeta
from core.studies import StudyKeys
from core.training.cv import stratified_group_kfold
from core.training.data import group_rule, load_folder
from tests.core.store.helpers import fake_id, item, open_test_store


def _png(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(0, 255, (24, 20), dtype=np.uint8)
    Image.fromarray(a, "L").save(path)
    return path


def _scan(store, root: Path, files: dict[str, float], uid: dict[str, str] | None = None):
    items = []
    for rel, p in files.items():
        path = _png(root / rel, len(items))
        it = item(path, rel, p)
        it.image_id = hashlib.sha256(path.read_bytes()).hexdigest()
        if uid and rel in uid:
            it.meta = ImageMeta(width=20, height=24, format="PNG", dicom=DicomMeta(study_uid=uid[rel]))
        items.append(it)
    store.record_scan_results(root, items)
    return items


def test_study_column_is_the_worklists_key_and_names_no_folder(tmp_path):
    store = open_test_store(tmp_path)
    root = tmp_path / "clinic"
    items = _scan(store, root, {"Smith_John/ap.png": 0.9, "Smith_John/lat.png": 0.2, "Doe_Jane/ap.png": 0.4,
                                "flat/x.png": 0.5}, uid={"flat/x.png": "1.2.840.99.1"})
    for n, it in enumerate(items):
        store.record_decision(it.image_id, "dr e", "fracture" if n % 2 == 0 else "no_fracture")
    out = export_labels(store, tmp_path / "out", images=True, study_grouping="folder").out
    rows = list(csv.DictReader(open(out / "labels.csv", newline="", encoding="utf-8")))
    assert list(rows[0]) == list(COLUMNS) and "study" in COLUMNS
    keys = StudyKeys(store.pseudonym_secret(), "folder")
    by_id = {it.image_id: it for it in items}
    expected = {keys.key(it.path, "1.2.840.99.1" if it.path.name == "x.png" else None) for it in by_id.values()}
    assert {r["study"] for r in rows} == expected and len(expected) == 3
    smith = {r["study"] for r in rows if r["file"].endswith(".png")} & {keys.key(root / "Smith_John" / "ap.png")}
    assert len(smith) == 1
    assert sum(r["study"] == next(iter(smith)) for r in rows) == 2
    doc = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    assert doc["header"]["study_grouping"] == "folder" and all(len(r["study"]) == 12 for r in doc["rows"])
    blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for word in (b"Smith", b"John", b"Doe_Jane", b"1.2.840.99.1", b"clinic"):
        assert word not in blob
    # another rule gives other keys; the same rule the same ones (stable for the database)
    again = export_labels(store, tmp_path / "out2", study_grouping="file").out
    rows2 = list(csv.DictReader(open(again / "labels.csv", newline="", encoding="utf-8")))
    assert len({r["study"] for r in rows2}) == 4
    store.close()


def test_training_groups_come_from_the_study_column(tmp_path):
    store = open_test_store(tmp_path)
    root = tmp_path / "clinic"
    files = {f"p{s:02d}/v{v}.png": 0.5 for s in range(8) for v in range(3)}
    items = _scan(store, root, files)
    for n, it in enumerate(items):
        store.record_decision(it.image_id, "dr t", "fracture" if (n // 3) % 2 == 0 else "no_fracture")
    out = export_labels(store, tmp_path / "export", images=True).out
    listing = load_folder(out)
    assert len(listing) == 24 and len(np.unique(listing.groups)) == 8
    study_of = {r["file"]: r["study"] for r in csv.DictReader(open(out / "labels.csv", newline="", encoding="utf-8"))}
    for g in np.unique(listing.groups):
        members = [listing.ids[i] for i in np.flatnonzero(listing.groups == g)]
        assert len({study_of[m] for m in members}) == 1 and len(members) == 3
    folds = stratified_group_kfold(listing.labels, listing.groups, k=4)
    for g in np.unique(listing.groups):
        assert len(set(folds[listing.groups == g].tolist())) == 1  # a study never straddles a split
    assert group_rule(listing) == "the export's study column (pseudonymous study key)"
    # an export without the column (made before studies): every image is its own group
    (out / "labels.csv").write_text("image_id,file,label\n", encoding="utf-8")
    old = load_folder(out)
    assert len(np.unique(old.groups)) == 24 and group_rule(old) == "one group per image"
    store.close()


def test_scan_csv_has_the_study_column(tmp_path):
    from core.cli.scan_cmd import CSV_COLUMNS, write_csv
    from core.discovery import DiscoveryStats
    from core.scan import ScanSummary

    assert CSV_COLUMNS[1] == "study"
    a, b = item(tmp_path / "s1" / "a.png", "a", 0.2), item(tmp_path / "s1" / "b.png", "b", 0.9)
    c = item(tmp_path / "s2" / "c.png", "c", 0.4)
    stats = DiscoveryStats()
    stats.skipped.append((tmp_path / "s2" / "notes.txt", "not an image"))
    summary = ScanSummary(root=tmp_path, model_version="m1", items=[a, b, c], discovery=stats)
    keys = StudyKeys(b"\x01" * 32, "folder")
    write_csv(tmp_path / "scan.csv", summary, None, keys)
    rows = list(csv.DictReader(open(tmp_path / "scan.csv", newline="", encoding="utf-8")))
    by_name = {Path(r["path"]).name: r["study"] for r in rows}
    assert by_name["a.png"] == by_name["b.png"] == keys.key(a.path) != by_name["c.png"] == by_name["notes.txt"]
    assert "s1" not in by_name["a.png"] and fake_id("a")[:12] != by_name["a.png"]
