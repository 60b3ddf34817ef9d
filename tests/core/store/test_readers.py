"""Several readers on one database (both engines): each reader's own current label and undo, roles,
the reference label from agreement or adjudication, reading mode and time to decision stored,
the database user on PostgreSQL, and claims that give two readers different images."""

from __future__ import annotations

import threading

import pytest

from core.store.readers import ADJUDICATED, AGREED, DISPUTED, SINGLE, adjudicated, needs_second_read, readers_disagree
from tests.core.store.helpers import fake_id, fill


def test_each_reader_has_their_own_label_and_undo(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.1])
    a = fake_id(0)
    d1 = store.record_decision(a, "dr a", "fracture")
    d2 = store.record_decision(a, "dr b", "no_fracture")
    assert d2.replaces is None  # dr b's first reading of the image, not a replacement of dr a's
    d3 = store.record_decision(a, "dr a", "doubt")
    assert d3.replaces == d1.id
    assert store.current_labels([a], reader="dr a")[a].label == "doubt"
    assert store.current_labels([a], reader="dr b")[a].label == "no_fracture"
    assert store.current_labels([a])[a].id == d3.id  # the latest of anyone
    by = store.labels_by_reader([a])[a]
    assert {k: v.label for k, v in by.items()} == {"dr a": "doubt", "dr b": "no_fracture"}
    u = store.undo_last("dr a")
    assert u.restored.id == d1.id  # dr a's own earlier label, never dr b's
    u = store.undo_last("dr a")
    assert u.restored is None and store.current_labels([a], reader="dr a") == {}
    assert store.current_labels([a])[a].id == d2.id


def test_reference_label_agreement_dispute_adjudication(store, tmp_path):
    fill(store, tmp_path, [0.5] * 4)
    i0, i1, i2, i3 = (fake_id(i) for i in range(4))
    store.set_reader("adj", "adjudicator")
    assert ("adj", "adjudicator") in store.readers()
    store.record_decision(i0, "A", "fracture")
    store.record_decision(i0, "B", "fracture")
    store.record_decision(i1, "A", "fracture")
    store.record_decision(i1, "B", "no_fracture")
    store.record_decision(i2, "A", "no_fracture")
    store.record_decision(i3, "A", "fracture")
    store.record_decision(i3, "B", "doubt")
    adj = store.record_decision(i3, "adj", "no_fracture")
    assert adj.role == "adjudicator"
    ref = store.reference_labels()
    assert (ref[i0].label, ref[i0].source, ref[i0].readers) == ("fracture", AGREED, 2)
    assert (ref[i1].label, ref[i1].source) == (None, DISPUTED)
    assert (ref[i2].label, ref[i2].source) == ("no_fracture", SINGLE)
    assert (ref[i3].label, ref[i3].source, ref[i3].readers) == ("no_fracture", ADJUDICATED, 2)
    by = store.labels_by_reader()
    assert [needs_second_read(by[i]) for i in (i0, i1, i2, i3)] == [False, False, True, False]
    assert [readers_disagree(by[i]) for i in (i0, i1, i2, i3)] == [False, True, False, False]
    assert [adjudicated(by[i]) for i in (i0, i1, i2, i3)] == [False, False, False, True]
    store.undo_last("adj")  # undoing the adjudication puts it back in the queue
    assert store.reference_labels([i3])[i3].source == DISPUTED


def test_mode_time_role_and_database_user_are_stored(store, tmp_path, engine_name):
    fill(store, tmp_path, [0.5])
    d = store.record_decision(fake_id(0), "A", "fracture", reading_mode="blinded", shown_ms=4200,
                              model_version="m1", probability=0.5)
    back = store.decision_history(fake_id(0))[0]
    assert (back.reading_mode, back.shown_ms, back.role) == ("blinded", 4200, "reader")
    if engine_name == "postgresql":
        assert back.db_user == "postgres"  # the test server's user
    else:
        assert back.db_user is None
    assert d.uid == back.uid
    with pytest.raises(ValueError):
        store.record_decision(fake_id(0), "A", "fracture", reading_mode="half-blind")
    with pytest.raises(ValueError):
        store.set_reader("A", "boss")


def test_claims_give_two_readers_different_images(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7])
    ids = [fake_id(i) for i in range(3)]
    got: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def reader(name: str) -> None:
        barrier.wait(10)
        got[name] = store.claim_next(name, ids)

    threads = [threading.Thread(target=reader, args=(n,)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert set(got) == {"A", "B"} and got["A"] != got["B"] and {got["A"], got["B"]} <= set(ids)
    assert store.claimed_by_others("A", ids) == {got["B"]}
    assert store.claim("A", got["A"])  # renewing one's own claim
    assert not store.claim("A", got["B"])
    store.record_decision(got["B"], "B", "fracture")  # deciding shortens the claim to a hold...
    assert store.claimed_by_others("A", ids) == {got["B"]} and not store.claim("A", got["B"])
    store.release("B", got["B"])  # ...that letting go leaves alone (other readers' polls learn of the decision)
    assert store.claimed_by_others("A", ids) == {got["B"]}
    assert store.claim("B", got["B"])  # B back on it (undo, say): B's own claim again, renewed in full
    store.release("B", got["B"])
    assert store.claimed_by_others("A", ids) == set()
    assert store.claim("C", ids[2], ttl_s=-1)  # an expired claim...
    assert store.claim("A", ids[2])  # ...is free for anyone


def test_the_hold_after_a_decision_expires(store, tmp_path, monkeypatch):
    import core.store.readers as rd

    fill(store, tmp_path, [0.9, 0.8])
    assert store.claim("B", fake_id(0)) and store.claim("B", fake_id(1))
    monkeypatch.setattr(rd, "DECIDED_HOLD_S", -1.0)  # a hold that has run out
    store.record_decision(fake_id(0), "B", "no_fracture")
    assert store.claimed_by_others("A", None) == {fake_id(1)}  # only the undecided image is still held
    assert store.claim("A", fake_id(0))
    monkeypatch.setattr(rd, "DECIDED_HOLD_S", 10.0)
    store.record_decision(fake_id(1), "B", "fracture")
    assert store.claimed_by_others("A", None) == {fake_id(1)}  # held for the 10 s after the decision


def test_under_double_reading_the_first_reading_lets_go_at_once(store, tmp_path):
    fill(store, tmp_path, [0.9])
    store.set_double_reading(True)
    assert store.claim("A", fake_id(0))
    store.record_decision(fake_id(0), "A", "fracture")
    assert store.claimed_by_others("B", None) == set()  # the second reader's to read now
    assert store.claim("B", fake_id(0))
    store.record_decision(fake_id(0), "B", "fracture")  # read twice: nothing left for a third reader
    assert store.claimed_by_others("C", None) == {fake_id(0)}


def test_live_update_reads_claims_and_reading_policy(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7])
    ids = [fake_id(i) for i in range(3)]
    assert store.last_event_id() == 0 and store.decided_since(0) == ([], 0)
    d1 = store.record_decision(ids[0], "A", "fracture")
    d2 = store.record_decision(ids[1], "B", "doubt")
    d3 = store.record_decision(ids[0], "B", "fracture")
    assert store.last_event_id() == d3.id
    assert store.decided_since(0) == ([ids[0], ids[1]], d3.id)  # each image once, oldest first
    assert store.decided_since(d1.id) == ([ids[1], ids[0]], d3.id)
    assert store.decided_since(d3.id) == ([], d3.id)
    u = store.undo_last("B")
    assert store.decided_since(d3.id) == ([ids[0]], u.id)  # an undo is news too
    assert d2.id < d3.id
    # every claim of others, without naming images
    assert store.claim("A", ids[0]) and store.claim("B", ids[1])
    assert store.claimed_by_others("A", None) == {ids[1]}
    assert store.claimed_by_others(None, None) == {ids[0], ids[1]}
    store.release("B", ids[1])
    assert store.claimed_by_others("A", None) == set()
    assert store.claim("A", ids[2], release=ids[0])  # moving on: one transaction lets go and claims
    assert store.claimed_by_others("B", None) == {ids[2]}
    assert not store.claim("B", ids[2], release=ids[1])  # refused; B held nothing to let go of
    assert store.claimed_by_others("B", None) == {ids[2]}
    # the clinic's reading policy, kept in the database
    assert store.double_reading() is False
    store.set_double_reading(True)
    assert store.double_reading() is True
    store.set_double_reading(False)
    assert store.double_reading() is False


def test_claim_next_takes_the_first_free_image_in_the_order_given(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7, 0.6])
    ids = [fake_id(i) for i in range(4)]
    order = [ids[2], ids[0], ids[3], ids[1]]  # the review order, not the database's
    assert store.claim("B", ids[2]) and store.claim("C", ids[0])
    assert store.claim("D", ids[3], ttl_s=-1)  # an expired claim is free
    assert store.claim_next("A", order) == ids[3]
    assert store.claim_next("A", order) == ids[3]  # A's own claim counts as free for A (renewed)
    assert store.claim_next("E", order) == ids[1]
    assert store.claim_next("F", order) is None and store.claim_next("F", []) is None  # all held
    assert store.claim_next("A", [ids[1], ids[2]]) is None
    assert store.claim_next("B", [ids[0], ids[1], ids[2]], release=ids[2]) == ids[2]  # let go and retaken
    assert store.claim_next("A", [ids[1]], release=ids[3]) is None  # A let go of image 3, image 1 is E's...
    assert store.claimed_by_others("E", None) == {ids[0], ids[2]}  # ...and A holds nothing now


def test_many_readers_claiming_at_once_each_get_a_different_image(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7, 0.6])
    ids = [fake_id(i) for i in range(4)]
    names = [f"R{i}" for i in range(6)]
    got: dict[str, object] = {}
    barrier = threading.Barrier(len(names))

    def reader(name: str) -> None:
        barrier.wait(10)
        got[name] = store.claim_next(name, ids)

    threads = [threading.Thread(target=reader, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    taken = [v for v in got.values() if v is not None]
    assert len(got) == 6 and sorted(taken) == sorted(ids)  # four images, four readers; two get none
    assert store.claimed_by_others(None, None) == set(ids)


def test_claim_next_on_postgresql_skips_a_locked_row_instead_of_waiting(store, tmp_path, engine_name):
    """A concurrent claimer (or a decision being written) holds image 0's row locked and has not
    committed: FOR … SKIP LOCKED passes it over at once; without SKIP LOCKED this call would wait."""
    if engine_name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers with BEGIN IMMEDIATE")
    from sqlalchemy import text

    fill(store, tmp_path, [0.9, 0.8])
    ids = [fake_id(0), fake_id(1)]
    got: dict[str, object] = {}
    with store.engine.connect() as other:
        with other.begin():
            other.execute(text("SELECT id FROM image WHERE id = :i FOR NO KEY UPDATE"), {"i": ids[0]})
            t = threading.Thread(target=lambda: got.update(a=store.claim_next("A", ids)))
            t.start()
            t.join(30)
            assert not t.is_alive() and got["a"] == ids[1]
    assert store.claim_next("B", ids) == ids[0]  # the lock is gone and nobody claimed image 0


def test_a_study_is_claimed_whole_or_not_at_all(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7, 0.6])
    study, other = [fake_id(0), fake_id(1), fake_id(2)], fake_id(3)
    assert store.claim("B", fake_id(1))
    assert store.claim_all("A", study) == {fake_id(1)}  # one view is open at B's: A gets none of them
    assert store.claimed_by_others("B", None) == set()
    store.release("B", fake_id(1))
    assert store.claim("A", other)
    assert store.claim_all("A", study, release=other) == set()  # moving on to the study lets go of image 3
    assert store.claimed_by_others("B", None) == set(study)
    assert store.claim_all("A", study) == set()  # renewed
    assert not store.claim("B", fake_id(2)) and store.claim_next("B", study + [other]) == other
    store.release("A", study)
    assert store.claimed_by_others("B", None) == set()
    assert store.claim_all("A", []) == set()


def test_two_readers_claiming_one_study_at_once_one_gets_it_whole(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7])
    study = [fake_id(i) for i in range(3)]
    got: dict[str, set] = {}
    barrier = threading.Barrier(2)

    def reader(name: str, ids: list) -> None:
        barrier.wait(10)
        got[name] = store.claim_all(name, ids)

    threads = [threading.Thread(target=reader, args=("A", study)), threading.Thread(target=reader, args=("B", study[::-1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(bool(v) for v in got.values()) == [False, True]  # one has all three, the other none
    winner = next(n for n, v in got.items() if not v)
    loser = "B" if winner == "A" else "A"
    assert store.claimed_by_others(loser, None) == set(study) and store.claimed_by_others(winner, None) == set()


def test_claim_all_on_postgresql_counts_a_locked_view_as_held_at_once(store, tmp_path, engine_name):
    if engine_name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers with BEGIN IMMEDIATE")
    from sqlalchemy import text

    fill(store, tmp_path, [0.9, 0.8])
    study = [fake_id(0), fake_id(1)]
    got: dict[str, object] = {}
    with store.engine.connect() as other:
        with other.begin():
            other.execute(text("SELECT id FROM image WHERE id = :i FOR NO KEY UPDATE"), {"i": study[1]})
            t = threading.Thread(target=lambda: got.update(a=store.claim_all("A", study)))
            t.start()
            t.join(30)
            assert not t.is_alive() and got["a"] == {study[1]}
    assert store.claimed_by_others(None, None) == set()  # none taken
    assert store.claim_all("A", study) == set()


def test_claim_next_under_double_reading_gives_the_second_reader_the_image_read_once(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8])
    ids = [fake_id(0), fake_id(1)]
    store.set_double_reading(True)
    assert store.claim_next("A", ids) == ids[0]
    assert store.claim_next("B", ids) == ids[1]  # A has image 0 open
    store.record_decision(ids[0], "A", "fracture")  # read once: let go at once, for a second reader
    assert store.claim_next("B", [ids[0]], release=ids[1]) == ids[0]
    store.record_decision(ids[0], "B", "no_fracture")  # read twice: held briefly, then nobody needs it
    assert store.claim_next("C", [ids[0]]) is None
