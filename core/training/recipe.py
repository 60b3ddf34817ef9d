"""Recipes and the cross-validation / final-training runners (torch).

A ``Recipe`` is everything that defines how a model is trained (architecture, input size, fit
settings); its hash names the folder where out-of-fold predictions are kept, fold by fold, so an
interrupted cross-validation resumes where it stopped and a finished one is never recomputed.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.training.cv import stratified_group_kfold
from core.training.data import Listing
from core.training.loop import FitConfig

# triagenet 1.0.0's head (GAP + linear, image labels only): ``--head gap``.
V1_ARCH = {"arch": "TriageNet", "widths": [16, 24, 48, 96, 192], "blocks": [0, 1, 1, 1, 1]}
# The 2.0.0 recipe (the default): the same backbone, a stride-16 cell map pooled by log-sum-exp, and a
# per-cell loss from the fracture boxes (see MODEL_CARD.md "what was tried" for what it did and did not gain).
MAP16_ARCH = {**V1_ARCH, "head": "map16", "lse_r": 4.0, "head_width": 64}
MAP16_CELL_WEIGHT = 1.0
DEFAULT_ARCH = dict(MAP16_ARCH)
DEFAULT_FIT = {"epochs": 18, "bf16": True, "cell_weight": MAP16_CELL_WEIGHT, "cell_pos_weight": 8.0}
SEED_ARCH = {"arch": "SeedNet", "size": 128}
# The 3.0.0 recipe: ImageNet EfficientNet-Lite0, trunk frozen to stride 16, last blocks fine-tuned, the map16
# head and box loss of 2.0.0 (core.training.lite); the trunk's features cached for the image, its flip and
# two augmentations.
LITE_ARCH = {"arch": "Lite0Map16", "head": "map16", "lse_r": 4.0, "head_width": 64}
HEAD_ONLY = ("lse_r", "head_width")  # arch settings of the top alone: the frozen trunk's cached features are shared
LITE_FIT = {"epochs": 6, "lr": 1e-3, "bf16": True, "cell_weight": MAP16_CELL_WEIGHT, "cell_pos_weight": 8.0,
            "frozen_versions": 4}


@dataclass
class Recipe:
    name: str = "triagenet"
    arch: dict = field(default_factory=lambda: dict(DEFAULT_ARCH))
    size: int = 256
    fit: FitConfig = field(default_factory=lambda: FitConfig(**DEFAULT_FIT))

    def to_dict(self) -> dict:
        fit = asdict(self.fit)
        for key in ("frozen_versions", "member", "ema"):
            if not fit.get(key):
                fit.pop(key, None)  # recipes from before these existed keep their tags (resumable runs)
        return {"name": self.name, "arch": self.arch, "size": self.size, "fit": fit}

    @property
    def frozen_trunk(self) -> bool:
        return self.arch.get("arch") == "Lite0Map16"

    @property
    def tops(self) -> int:
        """How many tops (fine-tuned blocks + head) share the frozen trunk; their image logits are averaged."""
        return int(self.arch.get("tops", 1))

    def member(self, m: int) -> "Recipe":
        """The one-top recipe of top ``m`` of an ensemble: trained exactly like a single model except that
        its training draws from ``seed + m`` (top 0 is the single-top recipe itself, fold files included)."""
        arch = {k: v for k, v in self.arch.items() if k != "tops"}
        return Recipe(self.name, arch, self.size, FitConfig(**{**asdict(self.fit), "member": int(m)}))

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        return cls(d["name"], dict(d["arch"]), int(d["size"]), FitConfig(**d["fit"]))

    def tag(self, data_key: str, folds: int, split_seed: int) -> str:
        blob = json.dumps([self.to_dict(), data_key, folds, split_seed], sort_keys=True).encode()
        return f"{self.name}-{hashlib.sha256(blob).hexdigest()[:12]}"


def lite_recipe(seed: int = 0) -> Recipe:
    return Recipe("triagenet", dict(LITE_ARCH), 256, FitConfig(**{**LITE_FIT, "seed": seed}))


def trunk_key(data: str, recipe: Recipe) -> str:
    """The frozen trunk's cache key: one cache per data, size, seed and trunk, whatever the number of versions
    (a cache with fewer is extended) and whatever the head (its settings are replaced by the defaults, so the
    key of a default recipe is the one it always had)."""
    trunk_arch = {**recipe.arch, **{k: LITE_ARCH[k] for k in HEAD_ONLY if k in recipe.arch}}
    return hashlib.sha256(json.dumps([data, recipe.size, recipe.fit.seed, trunk_arch],
                                     sort_keys=True).encode()).hexdigest()[:12]


def _trunk(listing: Listing, images: np.ndarray, masks: np.ndarray, recipe: Recipe, workdir: Path | None, log):
    """The frozen trunk's cached features for a Lite0 recipe (computed once per data and recipe)."""
    from core.training.lite import trunk_features

    cache = Path(workdir) / f"trunk-{trunk_key(data_key(listing), recipe)}" if workdir is not None else None
    return trunk_features(make_net(recipe), images, masks, recipe.fit.frozen_versions, seed=recipe.fit.seed,
                          cache=cache, threads=recipe.fit.threads, log=log)


def v1_recipe(seed: int = 0) -> Recipe:
    return Recipe("triagenet-v1", dict(V1_ARCH), 256, FitConfig(epochs=18, seed=seed))


def seed_recipe(epochs: int = 10, seed: int = 0) -> Recipe:
    return Recipe("seed-cnn", dict(SEED_ARCH), 128, FitConfig(epochs=epochs, lr=1e-3, weight_decay=0.0, seed=seed))


def make_net(recipe: Recipe, init_state: dict | None = None):
    from core.training.nets import build_net

    net = build_net(recipe.arch)
    if init_state is not None:
        net.load_state_dict(init_state)
    return net


def data_key(listing: Listing) -> str:
    h = hashlib.sha256()
    for i, y in zip(listing.ids, listing.labels):
        h.update(f"{i}:{int(y)}|".encode())
    return h.hexdigest()[:16]


@dataclass
class OOF:
    """Pooled out-of-fold predictions over the usable images of a listing."""

    logits: np.ndarray  # plain
    flipped: np.ndarray  # of the horizontally flipped image
    fold: np.ndarray
    seconds: float
    tta: np.ndarray | None = None  # the flip-TTA logit exactly as the exported graph pools it
    cams: np.ndarray | None = None  # (N, h, w) TTA-averaged cell logits
    embeddings: np.ndarray | None = None  # (N, C) out-of-fold embeddings of the image alone
    train_embeddings: list | None = None  # per fold: embeddings of that fold's training images by its model
    embeddings_tta: np.ndarray | None = None  # the same, averaged with the flipped image's (flip TTA)
    train_embeddings_tta: list | None = None

    def embedding_sets(self, tta: bool):
        """(out-of-fold, per-fold training) embeddings as the exported graph computes them with or
        without flip TTA; fold files written before both were kept hold only the flip-averaged ones."""
        if tta or self.embeddings is None:
            return self.embeddings_tta, self.train_embeddings_tta
        return self.embeddings, self.train_embeddings

    def scores(self, tta: bool) -> np.ndarray:
        if tta:
            return self.tta if self.tta is not None else 0.5 * (self.logits + self.flipped)
        return self.logits


def cv_folder(listing: Listing, recipe: Recipe, *, folds: int, split_seed: int, workdir: Path,
              init_state: dict | None = None, init_key: str = "") -> Path:
    """Where ``run_cv`` keeps a one-top recipe's per-fold results (named by the recipe's hash)."""
    return Path(workdir) / recipe.tag(data_key(listing) + (f"+init{init_key}" if init_state is not None else ""),
                                      folds, split_seed)


def cv_folders(listing: Listing, recipe: Recipe, **kw) -> list[Path]:
    """``cv_folder`` of each top of ``recipe`` (one folder for a one-top recipe)."""
    if recipe.tops <= 1:
        return [cv_folder(listing, recipe, **kw)]
    from core.training.lite import member_state

    init_state = kw.pop("init_state", None)
    return [cv_folder(listing, recipe.member(m), init_state=member_state(init_state, m), **kw)
            for m in range(recipe.tops)]


def run_cv(listing: Listing, images: np.ndarray, recipe: Recipe, *, folds: int = 5, split_seed: int = 0,
           workdir: Path, init_state: dict | None = None, init_key: str = "", log=print) -> OOF:
    """k-fold grouped stratified CV of ``recipe``; per-fold results saved under ``workdir/<tag>/``.

    With ``init_state`` every fold fine-tunes from those weights (keeping their input normalisation);
    ``init_key`` (e.g. the checkpoint's sha256) keeps results of different starting points apart."""
    if recipe.tops > 1:
        from core.training.lite import member_state

        return combine_tops([run_cv(listing, images, recipe.member(m), folds=folds, split_seed=split_seed,
                                    workdir=workdir, init_state=member_state(init_state, m), init_key=init_key, log=log)
                             for m in range(recipe.tops)])
    from core.training.boxes import masks_for
    from core.training.loop import fit, predict

    masks, supervised = masks_for(listing, recipe.size)
    fold = stratified_group_kfold(listing.labels, listing.groups, folds, split_seed)
    out = cv_folder(listing, recipe, folds=folds, split_seed=split_seed, workdir=workdir, init_state=init_state,
                    init_key=init_key)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2), encoding="utf-8")
    logits = np.full(len(listing), np.nan, np.float32)
    flipped = np.full(len(listing), np.nan, np.float32)
    tta = np.full(len(listing), np.nan, np.float32)
    cams, embs, embs_tta = None, {}, {}
    seconds = 0.0
    tf = None
    for f in range(folds):
        path = out / f"fold{f}.npz"
        if not path.is_file() and recipe.frozen_trunk and tf is None:
            tf = _trunk(listing, images, masks, recipe, workdir, log)
        if path.is_file():
            z = np.load(path)
            log(f"  {recipe.name} fold {f + 1}/{folds}: reusing {path}")
        else:
            tr, va = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            log(f"  {recipe.name} fold {f + 1}/{folds}: train {len(tr)} ({int(listing.labels[tr].sum())} fractured), "
                f"validate {len(va)}")
            t0 = time.time()
            net = make_net(recipe, init_state)
            if tf is not None:
                from core.training.lite import fit_top, predict_cached

                fit_top(net, tf, tr, listing.labels, supervised, recipe.fit, log=log)
                seconds_fit = time.time() - t0
                pv, pt = predict_cached(net, tf, va), predict_cached(net, tf, tr)
            else:
                fit(net, images[tr], listing.labels[tr], recipe.fit, log=log, set_stats=init_state is None,
                    masks=masks[tr], supervised=supervised[tr])
                seconds_fit = time.time() - t0
                pv = predict(net, images[va])
                pt = predict(net, images[tr])
            _keep_fold_net(net, out / f"fold{f}-net.pt")
            tmp = path.with_suffix(".tmp.npz")
            arrays = {"idx": va, "logits": pv.logits, "flipped": pv.flipped, "tta": pv.tta, "cams": pv.cams,
                      "emb_plain": pv.embeddings, "emb_flipavg": pv.embeddings_tta, "train_idx": tr,
                      "train_emb_plain": pt.embeddings, "train_emb_flipavg": pt.embeddings_tta}
            np.savez(tmp, seconds=seconds_fit, **{k: v for k, v in arrays.items() if v is not None})
            tmp.replace(path)
            z = np.load(path)
        idx = z["idx"]
        logits[idx], flipped[idx] = z["logits"], z["flipped"]
        tta[idx] = z["tta"] if "tta" in z else 0.5 * (z["logits"] + z["flipped"])
        if "cams" in z and z["cams"].size:
            if cams is None:
                cams = np.full((len(listing),) + z["cams"].shape[1:], np.nan, np.float32)
            cams[idx] = z["cams"]
        # embeddings: "emb_plain"/"emb_flipavg" (and train_*); older fold files: "embeddings" = flip-averaged
        for key, old_key, store in (("emb_plain", None, embs), ("emb_flipavg", "embeddings", embs_tta)):
            k = key if key in z else old_key
            if k is not None and k in z and z[k].size:
                store.setdefault("oof", np.full((len(listing), z[k].shape[1]), np.nan, np.float32))[idx] = z[k]
                tk = "train_" + key if ("train_" + key) in z else "train_embeddings"
                store.setdefault("train", []).append(z[tk].astype(np.float32))
        seconds += float(z["seconds"])
    return OOF(logits, flipped, fold, seconds, tta, cams, embs.get("oof"), embs.get("train"),
               embs_tta.get("oof"), embs_tta.get("train"))


def _keep_fold_net(net, path: Path) -> None:
    """Keep a fold's trained weights beside its predictions: the int8 graph is evaluated out of fold
    from them (``core.training.quantize``)."""
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}}, tmp)
    tmp.replace(path)


def fold_net(recipe: Recipe, folder: Path, f: int):
    """The network of fold ``f`` as ``run_cv`` trained it (eval mode), or None if it was not kept."""
    import torch

    path = Path(folder) / f"fold{f}-net.pt"
    if not path.is_file():
        return None
    return make_net(recipe, torch.load(path, map_location="cpu", weights_only=True)["state_dict"]).eval()


def combine_tops(oofs: list[OOF]) -> OOF:
    """The out-of-fold predictions of several tops on one trunk, as the exported graph combines them: the
    image logits (plain, flipped, flip-TTA) averaged, the heatmaps averaged, the embeddings top 0's."""
    first = oofs[0]
    if any((o.fold != first.fold).any() for o in oofs[1:]):
        raise ValueError("the tops were cross-validated on different folds")

    def mean(name):
        arrays = [getattr(o, name) for o in oofs]
        return None if any(a is None for a in arrays) else np.mean([a.astype(np.float32) for a in arrays], axis=0)

    return OOF(mean("logits"), mean("flipped"), first.fold, float(sum(o.seconds for o in oofs)), mean("tta"),
               mean("cams"), first.embeddings, first.train_embeddings, first.embeddings_tta, first.train_embeddings_tta)


def train_final(listing: Listing, images: np.ndarray, recipe: Recipe, *, init_state: dict | None = None,
                init_key: str = "", workdir: Path | None = None, log=print):
    """Train on all usable images with the recipe; returns (net in eval mode, seconds). With
    ``workdir`` the trained weights are kept there and reused by a rerun with the same data and recipe.
    Several tops are trained one after the other, each exactly as its one-top recipe."""
    import torch

    if recipe.tops > 1:
        from core.training.lite import Lite0Ensemble, member_state

        done = [train_final(listing, images, recipe.member(m), init_state=member_state(init_state, m),
                            init_key=init_key, workdir=workdir, log=log) for m in range(recipe.tops)]
        return Lite0Ensemble([n for n, _ in done]).eval(), float(sum(s for _, s in done))

    from core.training.loop import fit

    saved = None
    if workdir is not None:
        tag = recipe.tag(data_key(listing) + (f"+init{init_key}" if init_state is not None else ""), 0, 0)
        saved = Path(workdir) / f"{tag}-final.pt"
        if saved.is_file():
            blob = torch.load(saved, map_location="cpu", weights_only=True)
            log(f"  reusing the final model trained earlier: {saved}")
            return make_net(recipe, blob["state_dict"]).eval(), float(blob["seconds"])
    from core.training.boxes import masks_for

    masks, supervised = masks_for(listing, recipe.size)
    t0 = time.time()
    net = make_net(recipe, init_state)
    if recipe.frozen_trunk:
        from core.training.lite import fit_top

        tf = _trunk(listing, images, masks, recipe, workdir, log)
        t0 = time.time()
        fit_top(net, tf, np.arange(len(listing)), listing.labels, supervised, recipe.fit, log=log)
    else:
        fit(net, images, listing.labels, recipe.fit, log=log, set_stats=init_state is None, masks=masks,
            supervised=supervised)
    seconds = time.time() - t0
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": net.state_dict(), "seconds": seconds}, saved)
    return net, seconds
