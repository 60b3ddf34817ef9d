"""``fracture-triage scan`` and ``info``: in-process through ``core.cli.main`` (store, CSV, summary,
reuse on a re-scan, clear failures) plus one real subprocess run of the installed console script, and
the whole shared data folder scored with the test model."""

from __future__ import annotations

import csv
import os
import subprocess
import time
from pathlib import Path

import pytest

from core.cli import main
from tests.core.test_discovery import dicom_bytes, jpeg_bytes

ROOT = Path(__file__).resolve().parents[2]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "xrays"
    (root / "sub").mkdir(parents=True)
    for name, value in (("dark.jpg", 20), ("mid.jpg", 128), ("bright.jpg", 240), ("sub/other.jpg", 180)):
        (root / name).write_bytes(jpeg_bytes(value, size=(64, 64)))
    (root / "sub" / "copy.jpg").write_bytes((root / "bright.jpg").read_bytes())
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "IM0001").write_bytes(dicom_bytes())
    (root / "notes.txt").write_text("not an image")
    (root / ".DS_Store").write_bytes(b"\0")
    os.mkfifo(root / "pipe.dcm")
    return root


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'db' / 'triage.sqlite3'}"


def test_scan_stores_writes_csv_and_summarises(folder, test_model, db_url, tmp_path, capsys):
    out = tmp_path / "out.csv"
    rc = main(["scan", str(folder), "--model", str(test_model), "--db", db_url, "--csv", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = read_csv(out)
    assert list(rows[0].keys()) == ["path", "study", "status", "probability", "model_version", "flag", "error", "note",
                                    "scope", "scope_reason"]
    by_name = {Path(r["path"]).name: r for r in rows}
    # one study per folder (the default rule), under the database's pseudonymous keys
    assert by_name["dark.jpg"]["study"] == by_name["mid.jpg"]["study"] != by_name["other.jpg"]["study"]
    assert by_name["other.jpg"]["study"] == by_name["copy.jpg"]["study"] and len(by_name["dark.jpg"]["study"]) == 12
    # the test card's thresholds (0.3 / 0.7): flag follows the probability, never on errors or skipped files
    # (and never on out-of-scope images)
    for r in rows:
        p = float(r["probability"]) if r["probability"] and r["scope"] != "out_of_scope" else None
        assert r["flag"] == ("" if p is None else "definite" if p >= 0.7 else "suspicious" if p >= 0.3 else "")
    assert by_name["dark.jpg"]["flag"] == ""
    assert set(by_name) == {"dark.jpg", "mid.jpg", "bright.jpg", "other.jpg", "copy.jpg", "broken.jpg", "IM0001",
                            "notes.txt", "pipe.dcm"}  # hidden .DS_Store: counted, not listed
    assert {by_name[n]["status"] for n in ("dark.jpg", "mid.jpg", "other.jpg", "IM0001")} == {"scored"}
    assert sorted([by_name["bright.jpg"]["status"], by_name["copy.jpg"]["status"]]) == ["duplicate", "scored"]
    assert by_name["broken.jpg"]["status"] == "error" and by_name["broken.jpg"]["error"]
    assert by_name["notes.txt"]["status"] == "skipped" and by_name["pipe.dcm"]["status"] == "skipped"
    probs = [float(r["probability"]) for r in rows if r["probability"] and r["scope"] == "in_scope"]
    assert probs == sorted(probs, reverse=True) and len(probs) == 5
    # the 32×24 DICOM is out of scope: listed after every in-scope image, with its reason
    assert [r["scope"] for r in rows if r["probability"]][-1] == "out_of_scope"
    assert by_name["IM0001"]["scope_reason"].startswith("image too small")
    assert rows[-1]["probability"] == "" and by_name["mid.jpg"]["model_version"] == "0.0.1-test"
    text = captured.out
    assert "scored:     5" in text and "duplicates: 1" in text and "failed:     1" in text
    assert "skipped:    3 (1 hidden, 1 not images, 1 pipes/sockets/devices" in text
    assert f"{folder / 'broken.jpg'}: " in text  # each failure with its reason
    assert "Results stored in" in text and "CSV written" in text

    # the store has the results: a re-scan reuses every unchanged file without decoding
    from core.store import open_store

    store = open_store(db_url)
    try:
        hit = store.known_location(folder / "mid.jpg", (folder / "mid.jpg").stat().st_size,
                                   (folder / "mid.jpg").stat().st_mtime_ns, "0.0.1-test")
        assert hit is not None and hit[1] == pytest.approx(float(by_name["mid.jpg"]["probability"]), abs=1e-6)
    finally:
        store.close()
    rc = main(["scan", str(folder), "--model", str(test_model), "--db", db_url, "--csv", str(out)])
    again = capsys.readouterr().out
    assert rc == 0 and "reused from the database" in again
    rows2 = {Path(r["path"]).name: r for r in read_csv(out)}
    assert rows2["mid.jpg"]["status"] == "scored" and rows2["mid.jpg"]["probability"] == by_name["mid.jpg"]["probability"]


def test_no_store_and_odd_names(tmp_path, test_model, capsys):
    root = tmp_path / "odd"
    root.mkdir()
    (root / "ñandú 骨折.jpg").write_bytes(jpeg_bytes(90))
    with open(os.fsencode(root) + b"/caf\xe9.jpg", "wb") as fh:  # Latin-1 name: not UTF-8
        fh.write(jpeg_bytes(30))
    out = tmp_path / "odd.csv"
    rc = main(["scan", str(root), "--model", str(test_model), "--no-store", "--csv", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "scored:     2" in text and "not stored (--no-store)" in text
    names = sorted(Path(r["path"]).name for r in read_csv(out))
    assert names == ["caf\\xe9.jpg", "ñandú 骨折.jpg"]  # undecodable bytes shown as \xNN, never a crash


def test_odd_names_into_the_store(tmp_path, test_model, db_url, capsys):
    root = tmp_path / "odd"
    root.mkdir()
    with open(os.fsencode(root) + b"/caf\xe9.jpg", "wb") as fh:
        fh.write(jpeg_bytes(30))
    (root / "fine.jpg").write_bytes(jpeg_bytes(200))
    rc = main(["scan", str(root), "--model", str(test_model), "--db", db_url])
    text = capsys.readouterr().out
    assert rc == 0 and "scored:     2" in text  # stored, or listed as 'not stored' with the reason


def test_cannot_run_cases_exit_2_with_a_clear_line(tmp_path, test_model, folder, capsys):
    assert main(["scan", str(tmp_path / "missing"), "--model", str(test_model)]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "file.jpg").write_bytes(b"x")
    assert main(["scan", str(tmp_path / "file.jpg"), "--model", str(test_model)]) == 2
    assert "not a folder" in capsys.readouterr().err

    bad = tmp_path / "bad"
    bad.mkdir()
    for p in test_model.parent.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    (bad / test_model.name).write_bytes(test_model.read_bytes() + b"tampered")
    assert main(["scan", str(folder), "--model", str(bad / test_model.name), "--no-store"]) == 2
    err = capsys.readouterr().err
    assert "cannot use the model" in err and "does not match its card" in err

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database folder should be")
    assert main(["scan", str(folder), "--model", str(test_model), "--db", f"sqlite:///{blocker}/db.sqlite3"]) == 2
    assert "cannot use the database" in capsys.readouterr().err

    assert main(["scan", str(folder), "--model", str(test_model), "--csv", str(tmp_path / "nodir" / "x.csv")]) == 2
    assert "cannot write the CSV" in capsys.readouterr().err


def test_default_model_missing_is_a_clear_error(tmp_path, folder, monkeypatch, capsys):
    monkeypatch.setenv("FRACTURE_TRIAGE_RESOURCES", str(tmp_path / "res"))
    assert main(["scan", str(folder), "--no-store"]) == 2
    assert "no model installed in" in capsys.readouterr().err


def test_help_everywhere(capsys):
    for argv in (["--help"], ["scan", "--help"], ["info", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--csv OUT.csv" in out and "--model PATH" in out and "--db URL" in out


def test_info(test_model, tmp_path, monkeypatch, capsys):
    assert main(["info", "--model", str(test_model)]) == 0
    out = capsys.readouterr().out
    assert "Fracture Triage" in out and "onnxruntime" in out and "pydicom" in out and "Python 3." in out
    assert "model: testnet 0.0.1-test" in out and "matches its card" in out and "thresholds:" in out
    assert "Database: sqlite:///" in out and "Settings:" in out
    from core.paths import app_dirs

    assert f"Thumbnails: {app_dirs().thumbnails}" in out and "this computer only" in out
    monkeypatch.setenv("FRACTURE_TRIAGE_RESOURCES", str(tmp_path))
    assert main(["info"]) == 0
    assert f"none usable: no model installed in {tmp_path / 'models'}" in capsys.readouterr().out


def test_info_on_postgres_hides_the_password_and_names_the_backup_owner(test_model, monkeypatch, capsys):
    from core.settings import Settings

    url = "postgresql://dr:s3cret@db.clinic:5432/labels?sslmode=verify-full"
    monkeypatch.setattr(Settings, "load", classmethod(lambda cls, path=None: cls(db_url=url)))
    assert main(["info", "--model", str(test_model)]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "postgresql://dr:***@db.clinic:5432/labels" in out
    assert "PostgreSQL server at db.clinic:5432" in out and "server's job" in out and "pg_dump" in out


def test_console_script_subprocess(folder, test_model, tmp_path):
    exe = ROOT / ".venv" / "bin" / "fracture-triage"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe} (run packaging/linux/setup.sh)")
    out = tmp_path / "sub.csv"
    env = {**os.environ, "FRACTURE_TRIAGE_HOME": str(tmp_path / "home")}
    res = subprocess.run([str(exe), "scan", str(folder), "--model", str(test_model), "--csv", str(out)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert "scored:     5" in res.stdout and "\r" not in res.stderr  # not a terminal: no progress bar
    assert len(read_csv(out)) == 9
    assert (tmp_path / "home" / "data" / "fracture-triage.sqlite3").exists()


def test_scan_shared_data_scores_every_image(shared_data, test_model, tmp_path, capsys):
    """`fracture-triage scan ../shared/data` (the whole folder: ~3,200 JPEGs + 6 DICOMs) with the test model."""
    out = tmp_path / "shared.csv"
    t0 = time.perf_counter()
    rc = main(["scan", str(shared_data), "--model", str(test_model), "--db", f"sqlite:///{tmp_path / 's.sqlite3'}",
               "--csv", str(out)])
    elapsed = time.perf_counter() - t0
    text = capsys.readouterr().out
    assert rc == 0
    rows = read_csv(out)
    images = [r for r in rows if Path(r["path"]).suffix.lower() in (".jpg", ".jpeg", ".png", ".dcm")]
    failed = [(r["path"], r["error"]) for r in images if r["status"] not in ("scored", "duplicate")]
    assert not failed, f"{len(failed)} images not scored, e.g. {failed[:3]}"
    n_dicom = sum(1 for r in images if r["path"].endswith(".dcm"))
    assert n_dicom == len(list((shared_data / "dicom").glob("*.dcm"))) >= 6
    assert len(images) >= 3000 and "failed:     0" in text
    print(f"scanned {len(images)} images in {elapsed:.1f} s")


def test_interrupted_scan_stores_what_it_finished(folder, test_model, db_url, monkeypatch, capsys):
    import core.scan
    from core.results import SCORED, ScanItem

    done = folder / "mid.jpg"

    def interrupted_scan(root, model, *, on_item=None, **kw):
        st = done.stat()
        on_item(ScanItem(done, st.st_size, st.st_mtime_ns, SCORED, image_id="ab" * 32, probability=0.42,
                         model_version=model.version))
        raise KeyboardInterrupt

    monkeypatch.setattr(core.scan, "scan", interrupted_scan)
    assert main(["scan", str(folder), "--model", str(test_model), "--db", db_url]) == 130
    assert "interrupted" in capsys.readouterr().err
    from core.store import open_store

    store = open_store(db_url)
    try:
        st = done.stat()
        assert store.known_location(done, st.st_size, st.st_mtime_ns, "0.0.1-test")[1] == pytest.approx(0.42)
    finally:
        store.close()


def test_dicomdir_is_counted_not_an_error(tmp_path, test_model, capsys):
    from tests.core.test_discovery import dicomdir_bytes

    root = tmp_path / "cd"
    root.mkdir()
    (root / "DICOMDIR").write_bytes(dicomdir_bytes())
    (root / "IM0001").write_bytes(dicom_bytes())
    out = tmp_path / "cd.csv"
    rc = main(["scan", str(root), "--model", str(test_model), "--no-store", "--csv", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "failed:     0" in text and "1 DICOM directories (DICOMDIR)" in text
    assert [Path(r["path"]).name for r in read_csv(out)] == ["IM0001"]


def test_csv_note_column_carries_each_files_caveats(tmp_path, test_model, capsys):
    import io

    import numpy as np
    from PIL import Image

    from tests.core.imaging import factory

    root = tmp_path / "odd"
    root.mkdir()
    pages = [Image.fromarray(factory.phantom()), Image.fromarray(factory.phantom()[::-1].copy()),
             Image.fromarray(factory.phantom()[:, ::-1].copy())]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    (root / "pages.tif").write_bytes(buf.getvalue())
    rng = np.random.default_rng(1)
    big = factory.jpeg(rng.integers(0, 255, (600, 500), dtype=np.uint8))
    (root / "half.jpg").write_bytes(big[: len(big) // 2])
    frames = np.stack([factory.phantom(dtype=np.uint16, hi=4000)] * 4)
    (root / "cine.dcm").write_bytes(factory.dicom(frames, bits_stored=12))
    (root / "plain.jpg").write_bytes(jpeg_bytes(100))
    out = tmp_path / "odd.csv"
    assert main(["scan", str(root), "--model", str(test_model), "--no-store", "--csv", str(out)]) == 0
    capsys.readouterr()
    notes = {Path(r["path"]).name: r["note"] for r in read_csv(out)}
    assert "first page of 3 (multi-page TIFF)" in notes["pages.tif"]
    assert "first frame of 4 (multi-frame DICOM)" in notes["cine.dcm"]
    assert "missing" in notes["half.jpg"] and "truncated" in notes["half.jpg"]
    assert notes["plain.jpg"] == ""


def test_version_goes_to_stdout(capsys):
    """`fracture-triage --version` prints on stdout (scripts and the bundle's smoke test read it there)."""
    from core.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("Fracture Triage ") and err == ""
