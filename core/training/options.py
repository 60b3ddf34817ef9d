"""The recipe a ``fracture-triage train`` run asks for: the default (lite0) or 2.0.0's network, the
recipe of the model given to ``--init``, then each option applied and checked (a bad combination is a
``TrainError`` before any image is read)."""

from __future__ import annotations

from core.training.recipe import MAP16_ARCH, MAP16_CELL_WEIGHT, V1_ARCH, Recipe, lite_recipe


def _set_arch(recipe: Recipe, key: str, value: int, default: int) -> None:
    """``recipe.arch[key] = value``, left out when it is the default (so older recipes keep their tags)."""
    recipe.arch = {k: v for k, v in recipe.arch.items() if k != key}
    if value != default:
        recipe.arch[key] = int(value)


def recipe_for(opts) -> tuple[Recipe, dict | None, str]:
    """(recipe, initial weights or None, the initial model's version or "") for ``TrainOptions``."""
    from core.training.pipeline import TrainError, load_init

    init_state, init_key = None, ""
    recipe = Recipe() if (opts.backbone == "triagenet" or opts.head) else lite_recipe()
    if opts.init:
        ckpt = load_init(opts.init)
        init_key = ckpt.get("version", "")
        recipe = Recipe.from_dict(ckpt["recipe"])
        init_state = ckpt["state_dict"]
        recipe.fit.lr = recipe.fit.lr / 5  # fine-tuning: gentler by default
    if opts.size and not opts.init:
        recipe.size = opts.size
    if opts.head and not opts.init:
        recipe.arch = dict(V1_ARCH) if opts.head == "gap" else dict(MAP16_ARCH)
        recipe.fit.cell_weight = 0.0 if opts.head == "gap" else MAP16_CELL_WEIGHT
    if opts.box_weight is not None:
        recipe.fit.cell_weight = float(opts.box_weight)
    if opts.trunk_versions is not None:
        if not recipe.frozen_trunk:
            raise TrainError("--trunk-versions applies to the lite0 backbone (its frozen trunk's cached features)")
        if opts.trunk_versions < 2:
            raise TrainError("--trunk-versions must be at least 2 (the image and its flip)")
        recipe.fit.frozen_versions = int(opts.trunk_versions)
    if opts.trunk_blocks is not None:
        from core.training.lite import SPLIT, TRUNK_BLOCKS

        if not recipe.frozen_trunk:
            raise TrainError("--trunk-blocks applies to the lite0 backbone (where its frozen trunk ends)")
        if opts.trunk_blocks not in TRUNK_BLOCKS:
            raise TrainError(f"--trunk-blocks must be {TRUNK_BLOCKS[0]}..{TRUNK_BLOCKS[-1]} (the trunk ends at "
                             f"stride 16), not {opts.trunk_blocks}")
        if opts.init and opts.trunk_blocks != int(recipe.arch.get("trunk_blocks", SPLIT)):
            raise TrainError(f"--trunk-blocks {opts.trunk_blocks}: the model given to --init freezes "
                             f"{recipe.arch.get('trunk_blocks', SPLIT)} (fine-tuning keeps it)")
        _set_arch(recipe, "trunk_blocks", opts.trunk_blocks, SPLIT)
    if opts.tops is not None:
        if not recipe.frozen_trunk:
            raise TrainError("--tops applies to the lite0 backbone (several tops share its frozen trunk)")
        if opts.tops < 1:
            raise TrainError("--tops must be at least 1")
        if opts.init and opts.tops != recipe.tops:
            raise TrainError(f"--tops {opts.tops}: the model given to --init has {recipe.tops} (fine-tuning keeps them)")
        _set_arch(recipe, "tops", opts.tops, 1)
    for flag, key, value, lo, hi in (("--lse-r", "lse_r", getattr(opts, "lse_r", None), 0.5, 64.0),
                                     ("--head-width", "head_width", getattr(opts, "head_width", None), 8, 512)):
        if value is None:
            continue
        if recipe.arch.get("head") != "map16":
            raise TrainError(f"{flag} applies to the map16 head (the cell map pooled into the image logit)")
        if opts.init and value != recipe.arch.get(key):
            raise TrainError(f"{flag} {value:g}: the model given to --init has {recipe.arch.get(key):g} "
                             "(fine-tuning keeps it)")
        if not lo <= value <= hi:
            raise TrainError(f"{flag} must be {lo:g}..{hi:g}, not {value:g}")
        recipe.arch[key] = float(value) if key == "lse_r" else int(value)
    if getattr(opts, "float_blocks", None) is not None:
        if getattr(opts, "quantize", "off") != "int8":
            raise TrainError("--float-blocks applies to --quantize int8 (the trunk blocks kept in float)")
        if not 0 <= opts.float_blocks <= 11:
            raise TrainError(f"--float-blocks must be 0..11 (the frozen trunk's blocks), not {opts.float_blocks}")
    if getattr(opts, "ema", None) is not None:
        if not 0 < opts.ema < 1:
            raise TrainError(f"--ema must be between 0 and 1 (the average's decay per step), not {opts.ema:g}")
        recipe.fit.ema = float(opts.ema)
    if opts.epochs:
        recipe.fit.epochs = opts.epochs
    if opts.lr:
        recipe.fit.lr = opts.lr
    recipe.fit.seed = opts.seed
    recipe.name = opts.name
    return recipe, init_state, init_key
