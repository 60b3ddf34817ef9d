"""Store basics: scan results, incremental re-scan lookups, predictions per model version, decision
events with replaces/undo links, connection settings, and no patient fields in the schema."""

from __future__ import annotations

from datetime import timezone

import pytest
from sqlalchemy import inspect, text

from core.results import DicomMeta, ImageMeta
from core.store import LABELS, StoreError
from tests.core.store.helpers import error_item, fake_id, fill, item, open_test_store


def test_connection_settings(tmp_path):
    store = open_test_store(tmp_path)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    store.close()


def test_postgres_connection_settings(pg_url):
    from core.store import open_store

    store = open_store(pg_url.replace("postgresql+psycopg://", "postgresql://"), backups_keep=0)  # plain URL works
    try:
        with store.engine.connect() as conn:
            show = lambda name: conn.exec_driver_sql(f"SHOW {name}").scalar()  # noqa: E731
            assert show("application_name") == "fracture-triage"
            assert show("lock_timeout") == "10s" and show("statement_timeout") == "1min"
            assert show("idle_in_transaction_session_timeout") == "2min"
        assert store.engine.dialect.driver == "psycopg"
    finally:
        store.close()


def test_postgres_column_types_are_64_bit_and_zoned(pg_url):
    from core.store import open_store

    store = open_store(pg_url, backups_keep=0)
    try:
        cols = {c["name"]: c["type"] for c in inspect(store.engine).get_columns("location")}
        assert str(cols["mtime_ns"]) == "BIGINT" and str(cols["size"]) == "BIGINT"
        assert cols["last_seen"].timezone is True
    finally:
        store.close()


def test_times_come_back_in_utc_whatever_the_server_zone(store, tmp_path):
    """The test server runs with TimeZone=Europe/Berlin: a naive column would shift by an hour."""
    from datetime import datetime

    fill(store, tmp_path, [0.5])
    before = datetime.now(timezone.utc)
    d = store.record_decision(fake_id(0), "r", "fracture")
    after = datetime.now(timezone.utc)
    read = store.decision_history(fake_id(0))[0]
    assert read.decided_at == d.decided_at and read.decided_at.tzinfo == timezone.utc
    assert before <= read.decided_at <= after


def test_real_nanosecond_mtime_is_stored(store, tmp_path):
    it = item(tmp_path / "a.png", 1, 0.5)
    it.mtime_ns = 1_733_000_000_123_456_789  # int4 overflowed here on PostgreSQL before revision 0003
    it.size = 5_000_000_000  # a 5 GB file
    store.record_scan_results(tmp_path, [it])
    assert store.known_location(it.path, it.size, it.mtime_ns, "m1")[0] == it.image_id


def test_folder_filter_is_case_sensitive_on_every_engine(store, tmp_path):
    fill(store, tmp_path / "data" / "xr", [0.1, 0.2])
    assert len(store.image_rows(tmp_path / "data" / "xr")) == 2
    assert store.image_rows(tmp_path / "DATA" / "XR") == []
    assert store.image_rows(tmp_path / "data" / "x") == []
    store.record_scan_results(tmp_path, [error_item(tmp_path / "data" / "xr" / "bad.jpg")])
    assert store.error_rows(tmp_path / "DATA") == [] and len(store.error_rows(tmp_path / "data")) == 1


def test_folder_filter_escapes_wildcards(store, tmp_path):
    fill(store, tmp_path / "a_b", [0.1])
    store.record_scan_results(tmp_path, [item(tmp_path / "axb" / "z.png", 99, 0.3)])
    store.record_scan_results(tmp_path, [item(tmp_path / "a*" / "z.png", 98, 0.3)])
    store.record_scan_results(tmp_path, [item(tmp_path / "a%" / "z.png", 97, 0.3)])
    assert [r.image_id for r in store.image_rows(tmp_path / "a_b")] == [fake_id(0)]
    assert [r.image_id for r in store.image_rows(tmp_path / "a*")] == [fake_id(98)]
    assert [r.image_id for r in store.image_rows(tmp_path / "a%")] == [fake_id(97)]


def test_image_rows_is_one_query(store, tmp_path):
    from sqlalchemy import event as sa_event

    fill(store, tmp_path, [i / 10 for i in range(10)])
    statements = []

    def seen(conn, cursor, statement, *rest):  # noqa: ANN001, ANN002
        statements.append(statement)

    sa_event.listen(store.engine, "before_cursor_execute", seen)
    rows = store.image_rows(tmp_path, "m1")
    labels = store.current_labels([r.image_id for r in rows])
    sa_event.remove(store.engine, "before_cursor_execute", seen)
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(rows) == 10 and labels == {}
    assert len(selects) == 2, selects  # one for the rows, one for the labels


def test_schema_has_no_patient_fields(store):
    insp = inspect(store.engine)
    columns = {c["name"].lower() for t in insp.get_table_names() for c in insp.get_columns(t)}
    for forbidden in ("patient", "birth", "patientname", "patientid", "patient_name", "patient_id"):
        assert not any(forbidden in c for c in columns), columns


def test_scan_results_and_known_location(store, tmp_path):
    root = tmp_path / "xr"
    meta = ImageMeta(10, 20, "DICOM", ("first frame of 3",), DicomMeta("1.2", "1.3", "1.4", "DX", "HAND", "PA"))
    it = item(root / "a.dcm", 1, 0.8)
    it.meta = meta
    store.record_scan_results(root, [it, error_item(root / "bad.jpg")])
    assert store.known_location(it.path, it.size, it.mtime_ns, "m1") == (it.image_id, 0.8, meta, None, None)
    assert store.known_location(it.path, it.size, it.mtime_ns, "m2") == (it.image_id, None, meta, None, None)
    assert store.known_location(it.path, it.size + 1, it.mtime_ns, "m1") is None  # changed file
    assert [e.error for e in store.error_rows(root)] == ["truncated JPEG"]
    store.clear_scan_errors(root)
    assert store.error_rows(root) == []


def test_duplicate_is_one_image_two_locations(store, tmp_path):
    a = item(tmp_path / "a.png", 1, 0.5)
    b = item(tmp_path / "sub" / "b.png", 1, None, status="duplicate")
    store.record_scan_results(tmp_path, [a, b])
    rows = store.image_rows(tmp_path)
    assert len(rows) == 1 and rows[0].probability == 0.5
    assert set(store.paths_of(a.image_id)) == {str(a.path), str(b.path)}
    assert store.images_named("b.png") == {a.image_id}


def test_new_model_version_adds_prediction(store, tmp_path):
    store.record_scan_results(tmp_path, [item(tmp_path / "a.png", 1, 0.2, model="m1")])
    store.record_scan_results(tmp_path, [item(tmp_path / "a.png", 1, 0.9, model="m2")])
    assert store.image_rows(tmp_path, "m1")[0].probability == 0.2
    assert store.image_rows(tmp_path, "m2")[0].probability == 0.9
    assert store.image_rows(tmp_path)[0].probability == 0.9  # latest of any version


def test_root_filter_is_a_path_prefix(store, tmp_path):
    fill(store, tmp_path / "a", [0.1, 0.2])
    fill(store, tmp_path / "ab", [0.3])  # same prefix, another folder
    assert len(store.image_rows(tmp_path / "a")) == 2
    assert len(store.image_rows(tmp_path)) == 2  # fill() reuses ids 0..n: 'ab' img0000 is image 0 again


def test_error_then_fixed_file(store, tmp_path):
    p = tmp_path / "x.png"
    store.record_scan_results(tmp_path, [error_item(p)])
    store.record_scan_results(tmp_path, [item(p, 7, 0.4)])
    assert store.error_rows(tmp_path) == []
    assert [r.path for r in store.image_rows(tmp_path)] == [str(p)]


def test_decision_events_undo_and_history(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.1])
    a, b = fake_id(0), fake_id(1)
    d1 = store.record_decision(a, "dr a", "fracture", model_version="m1", probability=0.9)
    assert d1.decided_at.tzinfo == timezone.utc and d1.replaces is None
    d2 = store.record_decision(a, "dr b", "doubt", note="second look")
    assert d2.replaces is None  # each reader has their own chain (see test_readers.py)
    d3 = store.record_decision(b, "dr a", "no_fracture")
    assert {k: v.label for k, v in store.current_labels().items()} == {a: "doubt", b: "no_fracture"}

    u1 = store.undo_last("dr a")  # undoes d3 (dr a's latest)
    assert u1.is_undo and u1.undoes == d3.id and u1.restored is None
    u2 = store.undo_last("dr a")  # then d1; dr a has no earlier label; d2 by dr b stays current
    assert u2.undoes == d1.id and u2.restored is None
    assert store.current_labels([a])[a].id == d2.id
    assert store.undo_last("dr a") is None
    u3 = store.undo_last("dr b")
    assert u3.restored is None
    assert store.current_labels() == {}
    hist = store.decision_history(a)
    assert [h.kind for h in hist] == ["decide", "decide", "undo", "undo"]  # nothing deleted
    assert hist[0].probability == 0.9 and hist[0].model_version == "m1" and hist[0].reviewer == "dr a"
    assert store.reviewers() == ["dr a", "dr b"]


def test_undo_restores_previous_label(store, tmp_path):
    fill(store, tmp_path, [0.5])
    i = fake_id(0)
    store.record_decision(i, "r", "fracture")
    store.record_decision(i, "r", "no_fracture")
    u = store.undo_last("r")
    assert u.restored.label == "fracture"
    assert store.current_labels([i])[i].label == "fracture"


def test_decision_validation(store, tmp_path):
    fill(store, tmp_path, [0.5])
    with pytest.raises(ValueError):
        store.record_decision(fake_id(0), "r", "maybe")
    with pytest.raises(ValueError):
        store.record_decision(fake_id(0), "  ", "fracture")
    with pytest.raises(StoreError):
        store.record_decision(fake_id(99), "r", "fracture")
    assert set(LABELS) == {"fracture", "no_fracture", "doubt"}


def test_foreign_keys_enforced(store):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO location (path, name, image_id, size, mtime_ns, last_seen) "
                              "VALUES ('/x', 'x', 'nope', 1, 1, '2024-01-01')"))


def test_pseudonym_secret_is_stable_and_random(store, another_url):
    from core.store import open_store

    s1 = store.pseudonym_secret()
    assert s1 == store.pseudonym_secret() and len(s1) == 32
    other = open_store(another_url, backups_keep=0)
    try:
        assert other.pseudonym_secret() != s1
    finally:
        other.close()


def test_non_utf8_file_names_round_trip(store, tmp_path):
    """Linux names with bytes that are not UTF-8 are stored, found again and given back exactly."""
    import os

    root = tmp_path / "xr"
    odd = root / os.fsdecode(b"caf\xe9-\xff.png")  # Latin-1 bytes: lone surrogates in Python
    it = item(odd, 7, 0.6)
    store.record_scan_results(root, [it, error_item(root / os.fsdecode(b"bad\xfe.jpg"))])
    assert store.known_location(odd, it.size, it.mtime_ns, "m1")[0] == it.image_id
    assert store.paths_of(it.image_id) == [str(odd)]
    assert [r.path for r in store.image_rows(root)] == [str(odd)]
    assert os.fsencode(store.error_rows(root)[0].path).endswith(b"bad\xfe.jpg")
    assert store.images_named(odd.name) == {it.image_id}


def test_image_rows_one_query_latest_location_and_prediction(store, tmp_path):
    """Latest location under the root (a newer one elsewhere does not count), latest prediction of the
    version asked for (None when it has none), images ordered by path."""
    import time

    first = [item(tmp_path / "in" / f"{n}.png", n, 0.1 * n, model="m1") for n in (3, 1, 2)]
    store.record_scan_results(tmp_path / "in", first)
    time.sleep(0.01)
    store.record_scan_results(tmp_path / "in", [item(tmp_path / "in" / "moved" / "1.png", 1, 0.5, model="m2")])
    time.sleep(0.01)
    store.record_scan_results(tmp_path / "out", [item(tmp_path / "out" / "2.png", 2, 0.7, model="m1")])
    rows = store.image_rows(tmp_path / "in")
    assert [r.image_id for r in rows] == [fake_id(2), fake_id(3), fake_id(1)]  # in/2, in/3, in/moved/1
    by_id = {r.image_id: r for r in rows}
    assert by_id[fake_id(1)].path == str(tmp_path / "in" / "moved" / "1.png")  # the latest location
    assert by_id[fake_id(2)].path == str(tmp_path / "in" / "2.png")  # the newer one is outside the root
    assert (by_id[fake_id(1)].probability, by_id[fake_id(1)].model_version) == (0.5, "m2")  # latest of any version
    assert by_id[fake_id(2)].probability == 0.2  # one prediction per model version: the first one stays
    m1 = {r.image_id: r for r in store.image_rows(tmp_path / "in", "m1")}
    assert m1[fake_id(1)].probability == 0.1 and m1[fake_id(3)].probability == pytest.approx(0.3)
    none = store.image_rows(tmp_path / "in", "m9")
    assert all(r.probability is None and r.model_version == "m9" for r in none) and len(none) == 3
    assert [r.image_id for r in store.image_rows(image_ids=[fake_id(2)])] == [fake_id(2)]


def test_known_locations_answers_many_files_in_one_call(store, tmp_path):
    """The re-scan's bulk question: unchanged files come back with their score for the asked version,
    a changed size or mtime, an unknown path and a file never scored by that version are told apart."""
    root = tmp_path / "xr"
    items = [item(root / f"f{i:04d}.png", i, i / 1200) for i in range(1100)]  # more than one 500-path chunk
    items[3].scope, items[3].scope_reason = "out_of_scope", "colour photograph"
    store.record_scan_results(root, items)
    store.record_scan_results(root, [item(root / "other.png", "o", None)])  # known image, no prediction
    ask = [(i.path, i.size, i.mtime_ns) for i in items]
    ask[5] = (items[5].path, items[5].size + 1, items[5].mtime_ns)  # grew since
    ask[6] = (items[6].path, items[6].size, items[6].mtime_ns + 1)  # touched since
    ask.append((root / "new.png", 1, 1))
    other = item(root / "other.png", "o", None)
    ask.append((other.path, other.size, other.mtime_ns))
    found = store.known_locations(ask, "m1")
    assert len(found) == 1100 - 2 + 1
    from core.store.sqlbits import path_key

    hit = found[path_key(items[0].path)]
    assert hit == (items[0].image_id, 0.0, items[0].meta, None, None)
    assert found[path_key(items[3].path)][3:] == ("out_of_scope", "colour photograph")
    assert path_key(items[5].path) not in found and path_key(items[6].path) not in found
    assert found[path_key(other.path)][:2] == (other.image_id, None)
    assert store.known_locations(ask[:10], "m2")[path_key(items[0].path)][1] is None  # another version
    assert store.known_locations([], "m1") == {}
    assert store.known_location(items[0].path, items[0].size, items[0].mtime_ns, "m1") == hit


def test_one_batch_with_a_path_twice_keeps_the_last_result(store, tmp_path):
    """A watched file rewritten while its first result waits in the batch: the later result wins, as
    when they are stored one after the other; an error then a good read leaves no error."""
    root = tmp_path / "xr"
    a1, a2 = item(root / "a.png", 1, 0.2), item(root / "a.png", 2, 0.9)
    b_err, b_ok = error_item(root / "b.png"), item(root / "b.png", 3, 0.5)
    store.record_scan_results(root, [a1, b_err, a2, b_ok])
    assert store.known_location(a2.path, a2.size, a2.mtime_ns, "m1")[:2] == (a2.image_id, 0.9)
    assert store.error_rows(root) == []
    assert {r.path for r in store.image_rows(root)} == {str(a2.path), str(b_ok.path)}


def test_a_rescan_verdict_replaces_the_stored_one_and_a_reused_one_changes_nothing(store, tmp_path):
    root = tmp_path / "xr"
    a = item(root / "a.png", 1, 0.4)
    a.scope = "in_scope"
    store.record_scan_results(root, [a])
    again = item(root / "a.png", 1, 0.4)
    again.scope, again.scope_reason = "out_of_scope", "blank image"
    store.record_scan_results(root, [again])
    assert store.known_location(a.path, a.size, a.mtime_ns, "m1")[3:] == ("out_of_scope", "blank image")
    reused = item(root / "a.png", 1, 0.4, status="reused")
    reused.scope = "in_scope"  # a stale copy: REUSED results never rewrite the verdict they came from
    store.record_scan_results(root, [reused])
    assert store.known_location(a.path, a.size, a.mtime_ns, "m1")[3:] == ("out_of_scope", "blank image")


def test_labels_of_a_folders_worth_of_images_ask_only_about_decided_ones(store, tmp_path):
    """Over 500 ids (a folder's load): the images with any event are found first, only they are asked
    about — same answer as asking about each, for anyone's labels, one reader's and per reader."""
    from sqlalchemy import event as sa_event

    items = fill(store, tmp_path, [(i % 97) / 97 for i in range(1200)])
    ids = [i.image_id for i in items]
    store.record_decision(ids[5], "RB", "fracture")
    store.record_decision(ids[700], "RB", "doubt")
    store.record_decision(ids[700], "AK", "no_fracture")
    store.record_decision(ids[1199], "AK", "fracture")
    store.undo_last("AK")  # the last one undone: no label
    statements = []

    def seen(conn, cursor, statement, *rest):  # noqa: ANN001, ANN002
        statements.append(statement)

    sa_event.listen(store.engine, "before_cursor_execute", seen)
    labels = store.current_labels(ids)
    sa_event.remove(store.engine, "before_cursor_execute", seen)
    assert {k: d.label for k, d in labels.items()} == {ids[5]: "fracture", ids[700]: "no_fracture"}
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2  # decided ids, their labels
    assert {k: d.label for k, d in store.current_labels(ids, reader="RB").items()} == {ids[5]: "fracture", ids[700]: "doubt"}
    by = store.labels_by_reader(ids)
    assert {k: {r: d.label for r, d in v.items()} for k, v in by.items()} == {
        ids[5]: {"RB": "fracture"}, ids[700]: {"RB": "doubt", "AK": "no_fracture"}}
    assert store.current_labels(ids[:3]) == {} and store.current_labels([]) == {}
