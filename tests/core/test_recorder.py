"""The one scan recorder (CLI and desktop): batching by size and time, a refused batch retried file
by file, the database given up on after many refusals in a row, re-scan helpers."""

from __future__ import annotations

import pytest

from core.recorder import MAX_FAILURES_IN_A_ROW, DatabaseFailing, ScanRecorder
from tests.core.store.helpers import error_item, item, open_test_store


class Refusing:
    """A real store whose ``record_scan_results`` refuses any batch holding a file named in ``bad``
    (or every batch with ``all_bad``)."""

    def __init__(self, store, bad=(), all_bad=False):
        self.store, self.bad, self.all_bad, self.calls = store, set(bad), all_bad, 0

    def record_scan_results(self, root, items):
        self.calls += 1
        if self.all_bad or any(i.path.name in self.bad for i in items):
            raise RuntimeError("disk I/O error")
        self.store.record_scan_results(root, items)

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.fixture
def store(tmp_path):
    s = open_test_store(tmp_path)
    yield s
    s.close()


def _items(tmp_path, n, start=0):
    return [item(tmp_path / f"f{i}.png", i, 0.5) for i in range(start, start + n)]


def test_batches_by_size_then_rest(store, tmp_path):
    rec = ScanRecorder(store, tmp_path, batch_size=3, interval_s=3600)
    out = [rec.add(i) for i in _items(tmp_path, 8)]
    assert [len(b) for b in out if b] == [1, 3, 3]  # the first result at once, then full batches
    assert len(rec.rest()) == 1 and rec.rest() == []


def test_batches_by_time(store, tmp_path):
    rec = ScanRecorder(store, tmp_path, batch_size=1000, interval_s=0.0)
    assert [len(rec.add(i) or []) for i in _items(tmp_path, 3)] == [1, 1, 1]
    slow = ScanRecorder(store, tmp_path, batch_size=1000, interval_s=3600)
    assert [len(slow.add(i) or []) for i in _items(tmp_path, 3)] == [1, 0, 0]  # then wait for the interval


def test_a_refused_batch_is_retried_file_by_file(store, tmp_path):
    refusing = Refusing(store, bad={"f2.png"})
    rec = ScanRecorder(refusing, tmp_path, read_labels=True)
    items = _items(tmp_path, 5)
    store.record_scan_results(tmp_path, items[:1])
    store.record_decision(items[0].image_id, "RB", "fracture")
    result = rec.write(items)
    assert [i.path.name for i in result.stored] == ["f0.png", "f1.png", "f3.png", "f4.png"]
    assert result.not_stored == [(tmp_path / "f2.png", "RuntimeError: disk I/O error")]
    assert rec.stored == 4 and rec.not_stored == result.not_stored and not rec.failed
    assert set(result.labels) == {items[0].image_id}  # the stored images' current decisions
    assert len(store.image_rows(tmp_path, "m1")) == 4


def test_many_refusals_in_a_row_mean_the_database_is_failing(store, tmp_path):
    rec = ScanRecorder(Refusing(store, all_bad=True), tmp_path)
    rec.write(_items(tmp_path, MAX_FAILURES_IN_A_ROW - 1))  # could still be odd files
    assert not rec.failed
    with pytest.raises(DatabaseFailing, match="disk I/O error"):
        rec.write(_items(tmp_path, 3, start=100))
    assert rec.failed and rec.stored == 0 and len(rec.not_stored) == MAX_FAILURES_IN_A_ROW
    with pytest.raises(DatabaseFailing):  # later batches are not attempted
        rec.write(_items(tmp_path, 1, start=200))
    assert rec.known(tmp_path / "f0.png", 1, 1) is None


def test_a_success_resets_the_count(store, tmp_path):
    names = {f"f{i}.png" for i in range(0, 2 * MAX_FAILURES_IN_A_ROW) if i % 10}
    rec = ScanRecorder(Refusing(store, bad=names), tmp_path, batch_size=1)
    for it in _items(tmp_path, 2 * MAX_FAILURES_IN_A_ROW):
        rec.write([it])
    assert not rec.failed and rec.stored == 4


def test_begin_forgets_old_errors_and_known_answers(store, tmp_path):
    rec = ScanRecorder(store, tmp_path, "m1")
    bad = error_item(tmp_path / "bad.jpg")
    good = item(tmp_path / "good.png", 1, 0.8)
    rec.write([bad, good])
    assert len(store.error_rows(tmp_path)) == 1
    rec.begin()
    assert store.error_rows(tmp_path) == []
    image_id, prob, _meta, _scope, _reason = rec.known(good.path, good.size, good.mtime_ns)
    assert (image_id, prob) == (good.image_id, 0.8)
    assert rec.known(good.path, good.size + 1, good.mtime_ns) is None


def test_known_scores_afresh_a_name_the_database_cannot_hold(store, tmp_path):
    class Odd(Refusing):
        def known_location(self, *a):
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")

    assert ScanRecorder(Odd(store), tmp_path).known(tmp_path / "x", 1, 1) is None


def test_results_the_caller_shows_already_are_stored_but_not_handed_back(store, tmp_path):
    """A re-scan of an unchanged folder: every result stored (seen now), none handed back, no labels read."""
    items = _items(tmp_path, 4)
    store.record_scan_results(tmp_path, items)
    store.record_decision(items[0].image_id, "RB", "fracture")
    store.record_decision(items[3].image_id, "RB", "doubt")
    asked = []

    class Counting:
        def __getattr__(self, name):
            return getattr(store, name)

        def current_labels(self, ids, **kw):
            asked.append(list(ids))
            return store.current_labels(ids, **kw)

    shown = {items[0].path, items[1].path}
    rec = ScanRecorder(Counting(), tmp_path, read_labels=True, shown=lambda i: i.path in shown)
    result = rec.write(items)
    assert result.stored == items and rec.stored == 4
    assert result.changed == items[2:]
    assert asked == [[items[2].image_id, items[3].image_id]]  # only the rows the caller will add
    assert set(result.labels) == {items[3].image_id}
    assert ScanRecorder(store, tmp_path).write(items).changed == items  # without `shown`: all of them


def test_unchanged_files_are_batched_apart_in_big_batches(store, tmp_path, monkeypatch):
    """REUSED results (only marked seen) wait for REUSED_BATCH_SIZE of them, whatever the time; the
    others keep their own batching; rest() hands back both."""
    from dataclasses import replace

    import core.recorder as recorder_mod

    monkeypatch.setattr(recorder_mod, "REUSED_BATCH_SIZE", 4)
    rec = ScanRecorder(store, tmp_path, batch_size=3, interval_s=0.0)
    reused = [replace(i, status="reused") for i in _items(tmp_path, 6)]
    out = [rec.add(i) for i in reused[:3]] + [rec.add(i) for i in _items(tmp_path, 1, start=10)] + [rec.add(reused[3])]
    assert [len(b) if b else 0 for b in out] == [0, 0, 0, 1, 4]
    assert out[-1] == reused[:4]
    rec.add(reused[4])
    assert rec.rest() == [reused[4]] and rec.rest() == []
