"""The onnxruntime model: lazy session, thread settings, batched predict, CAM output, failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from core.model import ModelError, find_default_model, load_model, thread_plan
from core.model.card import card_path_for
from tests.model_factory import expected_probability, make_card, write_model


def test_session_is_lazy_and_onnxruntime_not_imported_by_loading(test_model):
    model = load_model(test_model, threads=1)
    assert not model.session_created
    assert model.version == "0.0.1-test" and model.input_size == 64
    model.predict(np.zeros((1, 1, 64, 64), np.float32))
    assert model.session_created


def test_thread_settings_are_deliberate(test_model):
    model = load_model(test_model, threads=1)
    sess = model.ensure_session()
    assert model.threads == 1
    opts = sess.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    import onnxruntime as ort

    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    # int8 graphs computed exactly on AVX2 CPUs without VNNI (the default kernels saturate there)
    assert opts.get_session_config_entry("session.x64quantprecision") == "1"
    with pytest.raises(ModelError, match="already exists"):
        model.set_threads(2)


def test_default_threads_follow_the_plan(test_model):
    model = load_model(test_model)
    assert model.threads == thread_plan().inference_threads >= 1
    plan = thread_plan(4)
    assert plan.decode_workers >= 1 and plan.inference_threads >= 1


def test_batched_predict_matches_expected_and_cam(test_model):
    model = load_model(test_model, threads=1)
    means = [0.1, 0.5, 0.62, 0.9]
    batch = np.stack([np.full((1, 64, 64), m, np.float32) for m in means])
    pred = model.predict(batch)
    assert pred.probabilities.shape == (4,) and pred.probabilities.dtype == np.float32
    np.testing.assert_allclose(pred.probabilities, [expected_probability(m) for m in means], rtol=1e-5)
    assert pred.cams is not None and pred.cams.shape == (4, 8, 8)
    np.testing.assert_allclose(pred.cams[2], 0.62, rtol=1e-5)
    assert model.predict(batch, with_cam=False).cams is None
    assert model.predict(np.zeros((0, 1, 64, 64), np.float32)).probabilities.shape == (0,)


def test_model_without_cam(tmp_path):
    model = load_model(write_model(tmp_path, with_cam=False), threads=1)
    pred = model.predict(np.full((2, 1, 64, 64), 0.5, np.float32))
    assert pred.cams is None and not model.has_cam


def test_wrong_batch_shape_is_refused(test_model):
    model = load_model(test_model, threads=1)
    with pytest.raises(ModelError, match="does not fit"):
        model.predict(np.zeros((1, 1, 32, 32), np.float32))


def test_card_size_disagreeing_with_graph_is_refused(tmp_path):
    onnx_path = write_model(tmp_path, size=64)
    raw = json.loads(card_path_for(onnx_path).read_text())
    raw["input"]["size"] = 128  # graph says 64
    card_path_for(onnx_path).write_text(json.dumps(raw))
    model = load_model(onnx_path, threads=1)
    with pytest.raises(ModelError, match="input shape"):
        model.ensure_session()


def test_unreadable_onnx_with_matching_card(tmp_path):
    junk = b"this is not an onnx protobuf"
    (tmp_path / "junk.onnx").write_bytes(junk)
    (tmp_path / "junk.json").write_text(json.dumps(make_card(junk)))
    model = load_model(tmp_path / "junk.onnx", threads=1)  # card and sha fine; the file is not a model
    with pytest.raises(ModelError, match="cannot load ONNX model"):
        model.predict(np.zeros((1, 1, 64, 64), np.float32))


def test_find_default_model(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match=f"no model installed in {tmp_path}"):
        find_default_model(tmp_path)
    older = write_model(tmp_path, version="1.2.0")
    newer = write_model(tmp_path, version="1.10.0")
    assert find_default_model(tmp_path) == newer != older
    monkeypatch.setenv("FRACTURE_TRIAGE_RESOURCES", str(tmp_path.parent))
    (tmp_path.parent / "models").mkdir(exist_ok=True)
    with pytest.raises(ModelError, match="no model installed"):
        load_model(None)


def test_importing_core_model_does_not_import_onnxruntime():
    import subprocess

    code = "import core.model, sys; print('onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.strip() == "False", out.stderr


def test_a_graph_the_exact_int8_kernels_cannot_open_runs_with_the_default_ones(test_model, monkeypatch, caplog):
    """An int8 graph made by an older train (a weight shared by two convolutions) fails to load with the
    exact kernels in onnxruntime 1.32; the app says so in the log and runs it with the default kernels."""
    import onnxruntime as ort

    real = ort.InferenceSession

    def exact(opts) -> bool:
        try:
            return opts.get_session_config_entry("session.x64quantprecision") == "1"
        except Exception:  # onnxruntime raises for a key that was never set
            return False

    def picky(path, sess_options=None, providers=None):
        if exact(sess_options):
            raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Attempt to replace the existing tensor\nmore")
        return real(path, sess_options=sess_options, providers=providers)

    monkeypatch.setattr(ort, "InferenceSession", picky)
    model = load_model(test_model, threads=1)
    with caplog.at_level("WARNING", logger="core.model.runtime"):
        sess = model.ensure_session()
    assert not exact(sess.get_session_options())
    assert "exact int8 kernels cannot be used" in caplog.text and "replace the existing tensor" in caplog.text
    assert model.predict(np.zeros((1, 1, 64, 64), np.float32)).probabilities.shape == (1,)


def test_a_graph_no_kernels_can_open_is_a_model_error(test_model, monkeypatch):
    import onnxruntime as ort

    def broken(path, sess_options=None, providers=None):
        raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH : broken")

    monkeypatch.setattr(ort, "InferenceSession", broken)
    with pytest.raises(ModelError, match="cannot load ONNX model .*INVALID_GRAPH"):
        load_model(test_model, threads=1).ensure_session()


def test_int8_instructions_are_read_from_the_cpu_flags():
    from core.model.runtime import int8_instructions

    assert int8_instructions("processor: 0\nflags\t\t: fpu sse2 avx2 fma\n") == "AVX2 without VNNI"
    assert int8_instructions("flags\t: fpu avx2 avx512f avx512_vnni\n") == "VNNI"
    assert int8_instructions("flags\t: fpu avx2 avx_vnni\n") == "VNNI"
    assert int8_instructions("Features\t: fp asimd\n") == ""  # ARM: not told here
    assert int8_instructions() in ("VNNI", "AVX2 without VNNI", "")
