"""import-labels: rows by absolute path, relative path or unique file name become decisions; unknown,
ambiguous and malformed rows are reported and skipped, never guessed; one bad row never stops the rest."""

from __future__ import annotations

import argparse

import pytest

from core.importing import LabelImportError, import_labels
from tests.core.store.helpers import fake_id, item, open_test_store


@pytest.fixture
def store(tmp_path):
    s = open_test_store(tmp_path)
    root = tmp_path / "xr"
    s.record_scan_results(
        root,
        [
            item(root / "a.png", "a", 0.9),
            item(root / "sub" / "b.png", "b", 0.5),
            item(root / "one" / "same.png", "s1", 0.4),
            item(root / "two" / "same.png", "s2", 0.3),  # same name, different image
            item(root / "c.png", "c", 0.2),
            item(root / "copy" / "c.png", "c", None, status="duplicate"),  # same name, same image
        ],
    )
    yield s
    s.close()


def test_import_rows(store, tmp_path):
    csv_file = tmp_path / "xr" / "labels.csv"
    csv_file.parent.mkdir(exist_ok=True)
    csv_file.write_text(
        "path,label,comment\n"
        f"{tmp_path / 'xr' / 'a.png'},fracture,abs\n"  # absolute
        "sub/b.png,0,relative to the CSV\n"
        "c.png,1,bare name, one image at two places\n"
        "same.png,doubt,ambiguous\n"
        "missing.png,fracture,unknown\n"
        "a.png,maybe,bad label\n"
        ",fracture,empty\n"
        "one/same.png, DOUBT ,case and spaces\n",
        encoding="utf-8",
    )
    report = import_labels(store, csv_file, "import")
    labels = {k: (v.label, v.reviewer) for k, v in store.current_labels().items()}
    assert labels == {
        fake_id("a"): ("fracture", "import"),
        fake_id("b"): ("no_fracture", "import"),
        fake_id("c"): ("fracture", "import"),
        fake_id("s1"): ("doubt", "import"),
    }
    assert report.imported == 4 and report.rows == 8
    reasons = dict(report.skipped)
    assert "2 different images" in reasons[5]
    assert "no scanned image named missing.png" in reasons[6]
    assert "unknown label" in reasons[7] and "empty path" in reasons[8]
    again = import_labels(store, csv_file, "import")  # idempotent
    assert again.imported == 0 and again.already == 4


def test_file_column_and_bom(store, tmp_path):
    csv_file = tmp_path / "other.csv"
    csv_file.write_text("\ufeffFile,Label\na.png,no_fracture\n", encoding="utf-8")
    assert import_labels(store, csv_file, "x").imported == 1


def test_bad_files(store, tmp_path):
    with pytest.raises(LabelImportError, match="does not exist"):
        import_labels(store, tmp_path / "nope.csv", "x")
    bad = tmp_path / "bad.csv"
    bad.write_text("image,diagnosis\na.png,1\n")
    with pytest.raises(LabelImportError, match="header"):
        import_labels(store, bad, "x")
    with pytest.raises(LabelImportError, match="reviewer"):
        import_labels(store, bad, " ")


def test_cli_import(store, tmp_path, capsys):
    from core.cli import import_cmd

    csv_file = tmp_path / "l.csv"
    csv_file.write_text("path,label\na.png,1\nzzz.png,1\n")
    parser = argparse.ArgumentParser()
    import_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["import-labels", "--db", f"sqlite:///{tmp_path / 'labels.db'}", "--reviewer", "RB", str(csv_file)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "imported 1 labels" in out and "line 3: no scanned image named zzz.png" in out


def test_quoted_fields_with_newlines_and_line_separators(store, tmp_path):
    """A spreadsheet's multi-line comment cell (quoted, with CR LF, LF, U+2028 or U+0085 inside) is
    one field of one row, not the start of new rows."""
    root = tmp_path / "xr"
    # file names may hold such characters too (legal on Linux): the path must survive byte for byte
    store.record_scan_results(root, [item(root / "odd\r\nname.png", "n1", 0.5),
                                     item(root / "line\u2028sep.png", "n2", 0.5)])
    csv_file = root / "multi.csv"
    csv_file.parent.mkdir(exist_ok=True)
    csv_file.write_bytes(
        (
            "path,label,comment\r\n"
            'sub/b.png,fracture,"distal radius,\r\nsee also the lateral view"\r\n'
            'c.png,no_fracture,"first line\u2028second line\x85third"\r\n'
            'a.png,doubt,"ends with a newline\n"\r\n'
            '"odd\r\nname.png",fracture,name with CR LF\r\n'
            '"line\u2028sep.png",no_fracture,name with a line separator\r\n'
        ).encode("utf-8")
    )
    report = import_labels(store, csv_file, "sheet")
    assert report.skipped == [] and report.imported == 5
    labels = {k: v.label for k, v in store.current_labels().items()}
    assert labels == {fake_id("b"): "fracture", fake_id("c"): "no_fracture", fake_id("a"): "doubt",
                      fake_id("n1"): "fracture", fake_id("n2"): "no_fracture"}


def test_unclosed_quote_is_reported_not_a_crash(store, tmp_path):
    csv_file = tmp_path / "xr" / "open.csv"
    csv_file.parent.mkdir(exist_ok=True)
    csv_file.write_text('path,label\nsub/b.png,fracture\n"c.png,doubt\n', encoding="utf-8")
    report = import_labels(store, csv_file, "sheet")
    assert report.imported == 1
    assert len(report.skipped) == 1


def test_re_import_adds_nothing_while_another_reader_decides_the_same_images(store, tmp_path):
    """Two readers importing their labels of the same images (a re-run after a crash, say): each
    reader's own current label decides 'already recorded', not whoever decided last."""
    csv_a, csv_b = tmp_path / "a.csv", tmp_path / "b.csv"
    xr = tmp_path / "xr"
    csv_a.write_text(f"path,label\n{xr / 'a.png'},fracture\n{xr / 'sub' / 'b.png'},no_fracture\n")
    csv_b.write_text(f"path,label\n{xr / 'a.png'},no_fracture\n{xr / 'sub' / 'b.png'},no_fracture\n")
    assert import_labels(store, csv_a, "A").imported == 2
    assert import_labels(store, csv_b, "B").imported == 2  # B is now the latest on both images
    again = import_labels(store, csv_a, "A")
    assert (again.imported, again.already) == (0, 2)
    assert import_labels(store, csv_b, "B").already == 2
    for image in ("a", "b"):
        assert sorted(d.reviewer for d in store.decision_history(fake_id(image))) == ["A", "B"]  # one event each
    by_reader = store.labels_by_reader([fake_id("a")])
    assert by_reader[fake_id("a")]["A"].label == "fracture" and by_reader[fake_id("a")]["B"].label == "no_fracture"
