"""The ONNX graph computes what the torch model computes (≤ 1e-4), with and without flip TTA, and keeps
the I/O contract: image (N,1,S,S) → probability (N,), cam (N,S/32,S/32)."""

import numpy as np
import pytest


def _warmed(torch, make):
    """A small net built under seed 0, with BatchNorm given non-trivial running statistics."""
    torch.manual_seed(0)
    net = make()
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(4, 1, 64, 64) * 0.8)
    return net


@pytest.mark.parametrize("tta", [False, True])
def test_onnx_matches_torch(torch_mod, tta):
    torch = torch_mod
    from core.training.export_onnx import export_bytes, parity, run_onnx
    from core.training.nets import ExportGraph, TriageNet

    net = _warmed(torch, lambda: TriageNet(widths=(8, 8, 16, 16, 24), blocks=(0, 1, 1, 0, 1)))
    graph = ExportGraph(net.eval(), temperature=1.7, prior_shift=0.69, tta=tta).eval()
    data = export_bytes(graph, 64)
    batch = np.random.default_rng(0).random((5, 1, 64, 64), dtype=np.float32)
    assert parity(graph, data, batch) <= 1e-4
    prob, cam = run_onnx(data, batch)
    assert prob.shape == (5,) and cam.shape == (5, 2, 2)
    assert np.all((prob > 0) & (prob < 1)) and np.all((cam >= 0) & (cam <= 1))
    # GAP head: the probability is the sigmoid of the mean calibrated CAM logit
    cam_logit = np.log(cam / (1 - cam))
    assert np.allclose(1 / (1 + np.exp(-cam_logit.mean((1, 2)))), prob, atol=1e-4)
    with torch.no_grad():
        raw = net(torch.from_numpy(batch)).numpy()
        if tta:
            raw = 0.5 * (raw + net(torch.flip(torch.from_numpy(batch), dims=[3])).numpy())
    assert np.allclose(1 / (1 + np.exp(-(raw - 0.69) / 1.7)), prob, atol=1e-4)


def test_seed_net_shapes(torch_mod):
    from core.training.nets import SeedNet, build_net

    net = build_net(SeedNet().config()).eval()
    assert net(torch_mod.rand(2, 1, 128, 128)).shape == (2,)


@pytest.mark.parametrize("tta", [False, True])
def test_map16_head_exports_probability_cam_embedding(torch_mod, tta):
    """2.0.0's head: a stride-16 map pooled by log-sum-exp, plus the embedding output; the ONNX graph
    pools the flip-averaged map exactly as the training code's ``predict`` does."""
    torch = torch_mod
    from core.training.export_onnx import export_bytes, parity, run_onnx
    from core.training.loop import predict
    from core.training.nets import ExportGraph, TriageNet, lse_pool

    net = _warmed(torch, lambda: TriageNet(widths=(8, 8, 16, 16, 24), blocks=(0, 1, 1, 0, 1), head="map16", lse_r=4.0,
                                           head_width=8))
    net.eval()
    graph = ExportGraph(net, temperature=1.3, prior_shift=0.69, tta=tta, with_embedding=True).eval()
    data = export_bytes(graph, 64)
    batch = np.random.default_rng(1).random((3, 1, 64, 64), dtype=np.float32)
    assert parity(graph, data, batch) <= 1e-4
    prob, cam, emb = run_onnx(data, batch, embedding=True)
    assert prob.shape == (3,) and cam.shape == (3, 4, 4) and emb.shape == (3, 24)
    cam_logit = np.log(cam / (1 - cam)) * 1.3 + 0.69  # back to raw cell logits
    pooled = lse_pool(torch.from_numpy(cam_logit), 4.0).numpy()
    assert np.allclose(1 / (1 + np.exp(-(pooled - 0.69) / 1.3)), prob, atol=1e-4)
    assert (cam_logit.max((1, 2)) >= pooled - 1e-4).all() and (cam_logit.mean((1, 2)) <= pooled + 1e-4).all()
    p = predict(net, (batch[:, 0] * 255).round().astype(np.uint8))
    raw = p.tta if tta else p.logits
    z = torch.from_numpy((np.round(batch * 255) / 255).astype(np.float32))
    graph_raw = graph(z)[0].detach().numpy()
    assert np.allclose(1 / (1 + np.exp(-(raw - 0.69) / 1.3)), graph_raw, atol=1e-4)


def test_build_net_round_trips_both_heads(torch_mod):
    from core.training.nets import TriageNet, build_net

    for head in ("gap", "map16"):
        net = TriageNet(widths=(8, 8, 16, 16, 24), blocks=(0, 1, 1, 0, 1), head=head)
        again = build_net(net.config())
        again.load_state_dict(net.state_dict())
        assert again.config() == net.config()
    assert "head" not in TriageNet().config()  # 1.0.0 checkpoints keep loading unchanged


def test_float16_weight_storage_halves_the_file_and_changes_outputs_only_by_the_rounding(torch_mod):
    """half_initializers stores the weights as float16 (cast back when onnxruntime loads the file): the
    file shrinks to about half, the outputs move only by the weights' rounding, the I/O stays."""
    torch = torch_mod
    import onnx

    from core.training.export_onnx import export_bytes, half_initializers, run_onnx, storage_difference
    from core.training.nets import ExportGraph, TriageNet

    net = _warmed(torch, lambda: TriageNet(widths=(8, 16, 32, 48, 64), blocks=(0, 1, 1, 1, 1), head="map16", lse_r=4.0,
                                           head_width=16))
    batch = np.random.default_rng(1).random((4, 1, 64, 64), dtype=np.float32)
    graph = ExportGraph(net.eval(), temperature=1.3, prior_shift=0.69, with_embedding=True).eval()
    full = export_bytes(graph, 64)
    half = half_initializers(full, min_elements=256)
    assert len(half) < 0.6 * len(full)
    model = onnx.load_from_string(half)
    assert sum(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer) >= 5
    assert [o.name for o in model.graph.output] == ["probability", "cam", "embedding"]
    diff = storage_difference(full, half, batch)
    assert 0 < diff < 2e-3
    prob, cam, emb = run_onnx(half, batch, embedding=True)
    assert prob.dtype == np.float32 and emb.shape == (4, 64)
