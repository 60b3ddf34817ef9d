"""The model registry: adding (card and sha256 verified, copied), listing, refusing bad models and
duplicate versions, activation as a recorded event, removal rules, and which model is resolved."""

from __future__ import annotations

import json

import pytest

from core.model import ModelError
from core.model.registry import Registry
from tests.core.store.helpers import open_test_store
from tests.model_factory import write_model


@pytest.fixture
def reg(tmp_path):
    shipped = write_model(tmp_path / "shipped", name="triagenet", version="1.0.0")
    return Registry(tmp_path / "registry", shipped.parent)


def test_add_copies_a_verified_model_and_lists_it(reg, tmp_path):
    src = write_model(tmp_path / "new", name="clinicnet", version="2.0.0", gain=4.0)
    e = reg.add(src)
    assert e.key == "clinicnet-2.0.0" and e.path.parent == reg.directory and not e.shipped
    assert e.path.read_bytes() == src.read_bytes()
    assert [x.key for x in reg.entries()] == ["triagenet-1.0.0", "clinicnet-2.0.0"]
    assert reg.add(src).path == e.path  # adding the same bytes again is harmless
    assert not list(reg.directory.glob("*.part"))


def test_bad_sha256_is_refused_and_nothing_is_copied(reg, tmp_path):
    src = write_model(tmp_path / "bad", name="clinicnet", version="2.0.0")
    card = json.loads(src.with_suffix(".json").read_text())
    card["sha256"] = "0" * 64
    src.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="does not match its card"):
        reg.add(src)
    assert not reg.directory.exists() or not list(reg.directory.iterdir())


def test_missing_card_and_non_onnx_are_refused(reg, tmp_path):
    src = write_model(tmp_path / "nocard", name="clinicnet", version="2.0.0")
    src.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="missing"):
        reg.add(src)
    with pytest.raises(ModelError, match="not an .onnx"):
        reg.add(src.with_suffix(".json"))


def test_versions_must_be_unique(reg, tmp_path):
    with pytest.raises(ModelError, match="version 1.0.0 is already used by triagenet-1.0.0"):
        reg.add(write_model(tmp_path / "clash", name="othernet", version="1.0.0", gain=3.0))
    with pytest.raises(ModelError, match="different model named triagenet-1.0.0"):
        reg.add(write_model(tmp_path / "clash2", name="triagenet", version="1.0.0", gain=3.0))


def test_activation_is_recorded_and_resolves(reg, tmp_path):
    store = open_test_store(tmp_path)
    try:
        assert reg.resolve(store=store).how == "shipped"
        reg.add(write_model(tmp_path / "new", name="clinicnet", version="2.0.0"))
        with pytest.raises(ModelError, match="no model 'nonet-9'"):
            reg.activate(store, "nonet-9", "dr a")
        ev = reg.activate(store, "clinicnet-2.0.0", "dr a")
        assert (ev.kind, ev.actor, ev.model_version) == ("activate", "dr a", "2.0.0")
        res = reg.resolve(store=store)
        assert res.how == "activated" and res.path.name == "clinicnet-2.0.0.onnx"
        assert reg.active_key(store) == "clinicnet-2.0.0"
        # explicit --model and settings win over the database
        assert reg.resolve(tmp_path / "x.onnx", "flag", store).how == "flag"
        assert reg.resolve(tmp_path / "y.onnx", "settings", store).how == "settings"
        # removing the active model is refused; after switching back it is allowed
        with pytest.raises(ModelError, match="is the active model"):
            reg.remove("clinicnet-2.0.0", reg.active_key(store))
        reg.activate(store, "triagenet-1.0.0", "dr b")
        assert reg.remove("clinicnet-2.0.0", reg.active_key(store)).key == "clinicnet-2.0.0"
        assert [e.key for e in reg.entries()] == ["triagenet-1.0.0"]
    finally:
        store.close()


def test_shipped_model_cannot_be_removed(reg):
    with pytest.raises(ModelError, match="shipped with the app"):
        reg.remove("triagenet-1.0.0", None)
    with pytest.raises(ModelError, match="no model"):
        reg.remove("nothing-1", None)


def test_an_activated_model_missing_here_falls_back_to_the_shipped_one(reg, tmp_path):
    store = open_test_store(tmp_path)
    try:
        e = reg.add(write_model(tmp_path / "new", name="clinicnet", version="2.0.0"))
        reg.activate(store, e.key, "dr a")
        e.path.unlink()  # e.g. another reader's computer never added it
        res = reg.resolve(store=store)
        assert res.how == "shipped" and "clinicnet-2.0.0 is not usable on this computer" in res.note
    finally:
        store.close()


def test_a_tampered_added_model_is_listed_as_unusable(reg, tmp_path):
    e = reg.add(write_model(tmp_path / "new", name="clinicnet", version="2.0.0"))
    e.path.write_bytes(e.path.read_bytes() + b"x")
    bad = [x for x in reg.entries() if not x.usable]
    assert len(bad) == 1 and "does not match its card" in bad[0].problem
    with pytest.raises(ModelError, match="cannot be used"):
        reg.get(bad[0].key)
