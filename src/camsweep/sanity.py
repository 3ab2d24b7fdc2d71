"""Model-parameter randomisation test of Adebayo et al. (2018), "Sanity Checks for Saliency Maps", NeurIPS.

A saliency method that explains the model should produce different maps once the model's learned
parameters are destroyed. The cascading test re-initialises the layers from the output downwards and
measures how similar each method's maps stay to the trained model's maps.

The cascade (:func:`randomisation_steps`)
-----------------------------------------
* **Blocks.** The cascade walks the model's blocks top-down: by default its top-level children that own
  parameters, in reverse registration order (a ResNet: fc, layer4, layer3, layer2, layer1, bn1, conv1);
  ``blocks`` names them instead (module or container names, top-down) for models whose top level is
  coarse (a torchvision ViT: ``encoder.layers.encoder_layer_11``, …). Parameters owned by the model
  object itself (a torchvision ViT's ``class_token``) lie in no child, so no default block has them.
* **Steps.** Step 0 re-initialises every parameter-owning module from ``randomise_from`` to the output
  (the one-step check); its ``block`` label joins the blocks it covers whole, top-down (``fc+layer4``),
  and adds ``randomise_from`` where the rest of the set is no whole block (with ``blocks=[layer3]``:
  ``layer4``). Each further step adds the next block not yet covered whole, in order; blocks already
  covered are skipped.
* **Variants.** *Cascading*: step k re-initialises step 0's modules and the blocks of steps 1 … k.
  *Independent*: step k re-initialises block k alone (step 0: step 0's set, as in the cascade). The
  per-module seeding below gives a block the same random weights at every step and in both variants.

Randomisation (:func:`randomised_copy`)
---------------------------------------
* The user's model is never touched: a deep copy is randomised and returned.
* **Layers.** A "layer" is a module that owns parameters directly (``parameters(recurse=False)``), in
  ``named_modules()`` order (:func:`parametrised_module_names`). For torchvision classifiers that is the
  forward order (stem … classifier); it is registration order, so check it for models whose modules are
  registered out of execution order. Cascading from the output, ``top=k`` randomises the last k such
  modules; ``top=0`` returns an unchanged copy (the trained baseline). Alternatively ``modules`` names the
  modules explicitly (e.g. one layer alone: Adebayo et al.'s independent randomisation).
* **Re-initialisation.** A module with ``reset_parameters()`` gets that method's initialisation (PyTorch's
  default for the layer type, e.g. Kaiming-uniform for convolutions and linear layers; this differs from
  some architectures' own init, but is equally untrained). A module without it (e.g. a ViT's class token
  or position embedding owner) has each of its own parameters drawn from N(0, 0.02²), the scale ViTs use
  for such parameters. Only the module's *own* parameters change: the reset runs on a private CPU copy of
  the module and just its own tensors are copied back, so children and other layers stay as trained.
* **Buffers** of a chosen module are set to whatever its ``reset_parameters()`` leaves them (modules
  without that method keep theirs). For BatchNorm that resets the running statistics (mean 0, variance 1,
  batch count 0) along with weight 1 and bias 0: the statistics were estimated through the trained
  weights upstream, and keeping them would leave learned information in the "randomised" model. In eval
  mode a reset BatchNorm is the identity. ``reset_buffers=False`` keeps every buffer as trained instead.
* **Seeding.** Each module is initialised from its own seed, derived from ``seed`` and the module's
  name (``SeedSequence([seed, crc32(name)])``): the result does not depend on the device, on ``top``
  or on which other modules are randomised, so a cascade's layers keep the same random weights from
  one step to the next. The global torch RNG state is left as it was.

Similarity of maps (:func:`map_similarity`)
-------------------------------------------
* **Spearman rank correlation** per image between the flattened maps, with average ranks for ties
  (CAMs after ReLU have many zeros). Adebayo et al. report it with and without absolute values; camsweep
  uses the signed maps by default (``absolute=False``): a CAM's sign is meaningful (evidence for versus
  against the class), and a map whose ranking flips under randomisation has changed, which the absolute
  variant would hide (a map and its negation correlate −1 here, +1 with ``absolute=True``). A constant
  map has no ranking: its rank correlation is NaN.
* **SSIM** (Wang, Bovik, Sheikh and Simoncelli 2004) on maps min–max normalised to [0, 1]
  (:func:`camsweep.maps.normalise`; data range L = 1): Gaussian window 11 × 11, σ = 1.5, K1 = 0.01,
  K2 = 0.03, C1 = (K1·L)², C2 = (K2·L)², local (population) variances and covariance, and the mean of
  the SSIM map over the pixels at least 5 from the border (where the window fits inside the map). This
  matches ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1)``. Maps must be at least 11 × 11; layer-resolution maps
  (7 × 7) must be upsampled first (:func:`camsweep.maps.upsample`). Two constant maps normalise to zeros
  and have SSIM 1 (C1, C2 > 0 make the formula well defined); NaN anywhere raises ``ValueError``.

The check (:func:`summarise`)
-----------------------------
A method **fails** when its mean rank correlation (over images with a defined correlation) between
trained-model and randomised-model maps stays above ``threshold`` (default 0.5). Adebayo et al. judge
visually and give no threshold; 0.5 is the conventional boundary of a "large" correlation (Cohen), i.e.
maps that still order pixels much as the trained model's maps did although the learned parameters are
gone. Upsampled CAMs are spatially smooth, so unrelated maps can correlate by chance; a threshold well
above 0 guards against flagging that. Groups without any defined correlation get ``fails_check`` = NA
(undecided, never a silent pass).
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata
from torch import nn

from camsweep import cams, maps as saliency_maps, regions
from camsweep.data.imageset import ImageSet
from camsweep.metrics import localisation
from camsweep.models import module_device

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
FALLBACK_STD = 0.02
DEFAULT_THRESHOLD = 0.5


# --- randomisation ------------------------------------------------------------------------------------


def parametrised_module_names(model: nn.Module) -> list[str]:
    """Names of the modules that own parameters directly, in ``named_modules()`` order (input → output)."""
    return [name for name, module in model.named_modules() if next(module.parameters(recurse=False), None) is not None]


def module_seed(seed: int, name: str) -> int:
    """The seed of one module: derived from the run's seed and the module's name, stable across runs."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def _fresh_state(module: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Re-initialised own parameters (and, with ``reset_parameters``, buffers) of ``module``, on the CPU.

    Computed on the CPU with a private seed so the draw is the same on every device.
    """
    with torch.random.fork_rng(devices=[]), torch.no_grad():  # restores the global CPU RNG afterwards
        torch.random.default_generator.manual_seed(seed)
        if not hasattr(module, "reset_parameters"):
            return {f"parameter:{key}": torch.empty_like(parameter, device="cpu").normal_(0.0, FALLBACK_STD)
                    for key, parameter in module.named_parameters(recurse=False)}
        private = copy.deepcopy(module).to("cpu")  # reset a copy: the method may touch more than own tensors
        private.reset_parameters()
        return {**{f"parameter:{k}": v for k, v in private.named_parameters(recurse=False)},
                **{f"buffer:{k}": v for k, v in private.named_buffers(recurse=False)}}


def randomised_copy(
    model: nn.Module,
    top: int | None = None,
    modules: Sequence[str] | None = None,
    seed: int = 0,
    reset_buffers: bool = True,
) -> nn.Module:
    """Deep copy of ``model`` with the last ``top`` parameter-owning modules, or the named ``modules``,
    re-initialised (see the module docstring). Exactly one of ``top`` and ``modules`` must be given."""
    names = parametrised_module_names(model)
    if (top is None) == (modules is None):
        raise ValueError("give exactly one of top (a count) and modules (names)")
    if top is not None:
        if not 0 <= top <= len(names):
            raise ValueError(f"top must be in [0, {len(names)}] for this model, got {top}")
        chosen = names[len(names) - top :]
    else:
        chosen = list(dict.fromkeys(modules))
        unknown = [name for name in chosen if name not in names]
        if unknown:
            raise ValueError(f"no parameter-owning modules named {unknown}")
    randomised = copy.deepcopy(model)
    owners = dict(randomised.named_modules())
    for name in chosen:
        module = owners[name]
        fresh = _fresh_state(module, module_seed(seed, name))
        with torch.no_grad():
            for key, parameter in module.named_parameters(recurse=False):
                parameter.copy_(fresh[f"parameter:{key}"])
            if reset_buffers:
                for key, buffer in module.named_buffers(recurse=False):
                    if f"buffer:{key}" in fresh:  # modules without reset_parameters keep their buffers
                        buffer.copy_(fresh[f"buffer:{key}"])
    return randomised


# --- similarity ---------------------------------------------------------------------------------------


def _validated_pair(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.ndim != 3 or first.shape != second.shape:
        raise ValueError(f"maps must be two (N, H, W) stacks of one shape, got {first.shape} and {second.shape}")
    if np.isnan(first).any() or np.isnan(second).any():
        raise ValueError("saliency map contains NaN")
    return first, second


def rank_correlation(first: np.ndarray, second: np.ndarray, absolute: bool = False) -> np.ndarray:
    """Per-image Spearman correlation of two map stacks (N, H, W) → (N,); NaN where a map is constant."""
    first, second = _validated_pair(first, second)
    if absolute:
        first, second = np.abs(first), np.abs(second)
    return _correlated_ranks(_centred_ranks(first), _centred_ranks(second))


def _centred_ranks(maps: np.ndarray) -> np.ndarray:
    """Each map's average ranks (ties share their mean rank) minus their mean: (N, H, W) → (N, H·W)."""
    ranks = rankdata(maps.reshape(len(maps), -1), axis=1)
    return ranks - ranks.mean(axis=1, keepdims=True)


def _correlated_ranks(ranks_first: np.ndarray, ranks_second: np.ndarray) -> np.ndarray:
    """Per-row Pearson correlation of centred ranks: Spearman's correlation; NaN where a map is constant."""
    norms = np.sqrt((ranks_first**2).sum(axis=1) * (ranks_second**2).sum(axis=1))
    covariance = (ranks_first * ranks_second).sum(axis=1)
    out = np.full(len(ranks_first), np.nan)
    np.divide(covariance, norms, out=out, where=norms > 0)
    return np.clip(out, -1.0, 1.0)


def _gaussian_kernel() -> np.ndarray:
    offsets = np.arange(SSIM_WINDOW) - SSIM_WINDOW // 2
    weights = np.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    return weights / weights.sum()


def ssim(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per-image mean SSIM of two map stacks (N, H, W) → (N,), after min–max normalisation of each map."""
    first, second = _validated_pair(first, second)
    height, width = first.shape[1:]
    if min(height, width) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs maps of at least {SSIM_WINDOW} × {SSIM_WINDOW}, got {height} × {width}; upsample")
    first, second = saliency_maps.normalise(first), saliency_maps.normalise(second)
    kernel = _gaussian_kernel()
    margin = SSIM_WINDOW // 2  # SSIM is averaged only where the window lies inside the map

    def local_mean(image: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(image, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)

    c1, c2 = SSIM_K1**2, SSIM_K2**2  # data range 1
    out = np.empty(len(first))
    for i, (x, y) in enumerate(zip(first, second, strict=True)):
        mean_x, mean_y = local_mean(x), local_mean(y)
        var_x = local_mean(x * x) - mean_x**2
        var_y = local_mean(y * y) - mean_y**2
        cov_xy = local_mean(x * y) - mean_x * mean_y
        numerator = (2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)
        denominator = (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
        ssim_map = numerator / denominator
        out[i] = ssim_map[margin : height - margin, margin : width - margin].mean()
    return out


def map_similarity(trained: np.ndarray, randomised: np.ndarray, absolute: bool = False) -> dict[str, np.ndarray]:
    """``rank_correlation`` and ``ssim`` per image between trained-model and randomised-model maps."""
    return {"rank_correlation": rank_correlation(trained, randomised, absolute), "ssim": ssim(trained, randomised)}


# --- the check ----------------------------------------------------------------------------------------


def summarise(
    frame: pd.DataFrame, group_keys: Sequence[str] = ("method",), threshold: float = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """Per group (default: per method): images with a defined rank correlation (``n``), mean rank
    correlation, mean SSIM, and ``fails_check`` = mean rank correlation > ``threshold`` (NA if undefined).

    ``frame`` has one row per image with columns ``rank_correlation`` and ``ssim`` plus ``group_keys``;
    add e.g. the randomisation step to ``group_keys`` to judge each cascade step. Rows are sorted by the keys.
    """
    group_keys = list(group_keys)
    missing = [c for c in [*group_keys, "rank_correlation", "ssim"] if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    grouped = frame.groupby(group_keys, sort=True, dropna=False)
    summary = pd.DataFrame({
        "n": grouped["rank_correlation"].count().astype(np.int64),
        "mean_rank_correlation": grouped["rank_correlation"].mean(),
        "mean_ssim": grouped["ssim"].mean(),
    }).reset_index()
    fails = pd.array(summary["mean_rank_correlation"] > threshold, dtype="boolean")
    fails[summary["mean_rank_correlation"].isna().to_numpy()] = pd.NA
    summary["fails_check"] = fails
    return summary


def modules_from(model: nn.Module, first: str) -> int:
    """How many parameter-owning modules the cascade randomises when it starts at ``first`` (a module name
    or the name of a container, e.g. ``layer4``) and runs to the output: the ``top`` for
    :func:`randomised_copy`."""
    names = parametrised_module_names(model)
    for index, name in enumerate(names):
        if name == first or name.startswith(first + "."):
            return len(names) - index
    raise ValueError(f"no parameter-owning module is or lies inside {first!r}; valid: {', '.join(names)}")


# --- the cascade --------------------------------------------------------------------------------------

VARIANTS = ("cascading", "independent")


@dataclass(frozen=True)
class Step:
    """Step ``index`` of the randomisation test, which adds ``block``: the modules the cascading variant
    re-initialises (this block and every one above it) and those the independent one does (the block alone)."""

    index: int
    block: str
    cascading: tuple[str, ...]
    independent: tuple[str, ...]

    def modules(self, variant: str) -> tuple[str, ...]:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
        return self.cascading if variant == "cascading" else self.independent


def top_level_blocks(model: nn.Module) -> list[str]:
    """The default blocks: ``model``'s top-level children that own parameters, top-down (reverse registration
    order, the reverse forward order for torchvision classifiers)."""
    return [name for name, child in reversed(list(model.named_children())) if next(child.parameters(), None) is not None]


def block_modules(model: nn.Module, block: str) -> list[str]:
    """The parameter-owning modules that are ``block`` or lie inside it, in ``named_modules()`` order."""
    return [name for name in parametrised_module_names(model) if name == block or name.startswith(block + ".")]


def randomisation_steps(model: nn.Module, randomise_from: str, blocks: Sequence[str] | None = None) -> list[Step]:
    """The steps of the test (module docstring): step 0 from ``randomise_from`` to the output, then one per
    block of ``blocks`` (top-down; None: :func:`top_level_blocks`) not already covered whole."""
    names = parametrised_module_names(model)
    first = tuple(names[len(names) - modules_from(model, randomise_from) :])
    blocks = top_level_blocks(model) if blocks is None else list(blocks)
    members = {block: block_modules(model, block) for block in blocks}
    empty = [block for block, inside in members.items() if not inside]
    if empty:
        valid = [name for name, module in model.named_modules() if name and next(module.parameters(), None) is not None]
        raise ValueError(f"blocks {empty} are not modules that own parameters; valid: {', '.join(valid)}")
    done = set(first)
    above = [block for block in blocks if done.issuperset(members[block])]
    starts_inside = bool(done.difference(*(members[block] for block in above))) and randomise_from not in above
    steps = [Step(0, "+".join(above + [randomise_from] * starts_inside), first, first)]
    for block in blocks:
        if done.issuperset(members[block]):
            continue
        done.update(members[block])
        steps.append(Step(len(steps), block, tuple(name for name in names if name in done), tuple(members[block])))
    return steps


# --- the test of one method ---------------------------------------------------------------------------


def _energy_pointing_games(split: ImageSet, stack: np.ndarray) -> dict[str, np.ndarray]:
    """The energy pointing game of upsampled maps (N, H, W) on boxes and on masks; NaN for empty regions.
    It needs no threshold: no localisation settings here."""
    box_regions = regions.boxes_to_masks(split.boxes, stack.shape[1:])
    normalised = saliency_maps.normalise(stack)
    games = {}
    for kind, truth in (("box", box_regions), ("mask", split.masks)):
        energy = localisation.energy_pointing_game(normalised, truth)
        games[kind] = np.where(truth.any(axis=(1, 2)), energy, np.nan)
    return games


def _similarity_rows(
    split: ImageSet,
    trained: Mapping[str, np.ndarray],
    trained_ranks: Mapping[str, np.ndarray],
    trained_games: Mapping[str, Mapping[str, np.ndarray]],
    random_maps: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """One row per (layer, image): :func:`map_similarity` of the upsampled ``trained`` maps (their ranks and,
    if the split has masks, energy pointing games computed once for every step) and the randomised model's
    layer-resolution ``random_maps``."""
    frames = []
    for layer, trained_stack in trained.items():
        random = saliency_maps.upsample(random_maps[layer], trained_stack.shape[1:])
        similarity = ssim(trained_stack, random)  # first: it refuses NaN maps
        frame = pd.DataFrame({"id": split.ids.astype(str), "layer": layer,
                              "rank_correlation": _correlated_ranks(trained_ranks[layer], _centred_ranks(random)),
                              "ssim": similarity})
        if split.has_masks:
            for model_name, games in (("trained", trained_games[layer]),
                                      ("randomised", _energy_pointing_games(split, random))):
                for kind in ("box", "mask"):
                    frame[f"energy_pg_{kind}_{model_name}"] = games[kind]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def randomisation_test(
    model: nn.Module,
    inputs: torch.Tensor,
    split: ImageSet,
    trained_maps: Mapping[str, np.ndarray],
    method: str,
    layers: Sequence[str],
    steps: Sequence[Step],
    seed: int,
    settings: cams.CamSettings = cams.CamSettings(),
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every step of both variants for ``method``: one row per (variant, step, layer, image) with
    :func:`map_similarity` of the trained model's maps (``trained_maps``: each layer's maps and the explained
    ``targets``) and the maps of the model with the step's modules re-initialised (seeded by ``seed``), both
    upsampled to the images; with ground truth, also each model's energy pointing game on boxes and masks.
    Returns the rows and the step-0 randomised maps ``{layer: float32 (N, h, w)}``. ``inputs`` are the
    preprocessed images of ``split``."""
    device = module_device(model)
    targets = trained_maps["targets"]  # explain the same class with both models
    size = split.images.shape[1:3]
    trained = {layer: saliency_maps.upsample(trained_maps[layer], size) for layer in layers}
    trained_ranks = {layer: _centred_ranks(trained[layer]) for layer in layers}
    trained_games = {layer: _energy_pointing_games(split, trained[layer]) for layer in layers} if split.has_masks else {}
    # Rows by module set: step 0 is the same in both variants. A baseline map knows nothing of the weights,
    # so one computation serves every step.
    model_free = cams.registry.get(method).baseline
    rows: dict[tuple[str, ...], pd.DataFrame] = {}
    first_maps: dict[str, np.ndarray] = {}
    frames = []
    for variant in VARIANTS:
        for step in steps:
            modules = steps[0].cascading if model_free else step.modules(variant)
            if modules not in rows:
                randomised = randomised_copy(model, modules=modules, seed=seed).to(device)
                computed = cams.compute(randomised, inputs, method, list(layers), targets, settings=settings)
                random_maps = {layer: stack.numpy().astype(np.float32) for layer, stack in computed.items()}
                if step.index == 0:
                    first_maps = random_maps
                rows[modules] = _similarity_rows(split, trained, trained_ranks, trained_games, random_maps)
            frames.append(rows[modules].assign(variant=variant, step=step.index, block=step.block))
    frame = pd.concat(frames, ignore_index=True)
    leading = ["variant", "step", "block"]
    return frame[leading + [column for column in frame.columns if column not in leading]], first_maps
