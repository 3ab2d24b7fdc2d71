"""The segmentation-ablation study's occlusion study: occlude part of the foreground (or of the background) and watch the segmentation
and the class activation map change.

For each image, a growing fraction of one region (the ground-truth foreground, or its complement, the
background) is painted with a constant value; the segmenter and the CAM are recomputed on the occluded
image and compared with the unoccluded ones.

Conventions
-----------
* **Masks** (:func:`occlusion_masks`). The pixels of an image's region get a fixed order and the first
  ``round(fraction · |region|)`` of them are occluded (round half up), so the masks are nested: a larger
  fraction occludes a superset of a smaller one. ``"sweep"`` orders the pixels by their projection
  (x = column, y = row) onto a random direction, ties broken by row-major pixel index: the occluded set is
  the region cut by a half-plane, a block sweeping across the region like a real occluder (contiguous for a
  convex region). ``"random"`` orders them by a random permutation (scattered pixels). The generator of
  an image is ``seeding.rng(seed, "occlusion", pattern, str(image_id))``: the same id gives the same mask
  whatever the batch, and ids are keyed by their string form (``np.str_("a")`` and ``"a"`` agree).
* **Segmentation**: the predicted mask is ``argmax over channels == target_class`` (``logit > 0`` for a
  single-channel output, as :class:`~camsweep.cams.targets.RegionTargets` does), model in eval mode.
  Dice and IoU are against the *original* ground truth (:mod:`camsweep.metrics.segmentation`: both 1 when
  prediction and truth are empty).
* **CAM**: ``method`` at ``layer`` with ``RegionTargets(target_class, masks=None)``: the region is the
  predicted mask of the image being explained (the occluded one). When that prediction is **empty** the
  target score is exactly 0 (a sum over no pixels) and so is every ablated score: Ablation-CAM's weights
  are 0 / max(|0|, ε) = 0 and the map is all zeros (the gradient methods get zero gradients, hence zero
  maps, too). A zero map normalises to zeros (:func:`camsweep.maps.normalise`): its ``map_rmse`` is the
  RMS of the unoccluded normalised map (× scale) and its ``epg_remaining`` is 0 (no energy — a
  localisation failure, as in :mod:`camsweep.metrics.localisation`). A non-finite map raises
  ``FloatingPointError``; nothing NaN or infinite reaches the table from the maps.
* **Columns** (one row per image, occluded region and fraction): ``id``, ``occluded`` (``foreground`` |
  ``background``), ``fraction`` (requested), ``occluded_pixels`` (count), ``occluded_pixels_fraction``
  (achieved share of the region; NaN when the region is empty), ``predicted_pixels`` (size of the
  predicted mask; 0 means the map is the all-zero map above), ``dice``, ``iou``, ``map_rmse`` =
  :func:`camsweep.metrics.stability.cam_rmse` (unoccluded map, occluded map, ``stability_scale``) at layer
  resolution, and ``epg_remaining`` = energy pointing game of the bilinearly upsampled, then normalised map
  inside the ground-truth foreground minus the occluded pixels (NaN when nothing of the foreground remains:
  an empty ground truth, or the whole foreground occluded).
* **Reuse**: an image with no occluded pixel (every image at fraction 0; any image whose region is empty
  or too small for the fraction to round above 0) is byte-identical to the original, so its row reuses the
  outputs of the one unoccluded forward/CAM pass of that image: foreground and background rows at fraction
  0 share them, ``map_rmse`` is exactly 0 there and Dice/IoU are equal. Every other row comes from its own
  forward pass and CAM on its occluded image.
* Rows are ordered by occluded region (foreground, then background), fraction (ascending), then image in
  input order. Images are processed ``batch_size`` at a time.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from camsweep import maps as saliency_maps, seeding
from camsweep.cams import CamSettings, RegionTargets, compute, hooks
from camsweep.cams.targets import predicted_regions
from camsweep.metrics import localisation, segmentation, stability
from camsweep.models import module_device

PATTERNS = ("sweep", "random")
OCCLUDED = ("foreground", "background")
METRICS = ("dice", "iou", "map_rmse", "epg_remaining")
COLUMNS = (
    "id", "occluded", "fraction", "occluded_pixels", "occluded_pixels_fraction", "predicted_pixels",
    *METRICS,
)

__all__ = [
    "COLUMNS", "METRICS", "OCCLUDED", "PATTERNS", "check_fractions", "occlude", "occlusion_counts",
    "occlusion_masks", "occlusion_study", "predicted_masks", "segment_and_explain",
]


def check_fractions(fractions: Sequence[float]) -> list[float]:
    """The fractions as floats; ``ValueError`` naming the first one that is not a number in [0, 1]."""
    if isinstance(fractions, (str, bytes)) or not np.iterable(fractions):
        raise ValueError(f"fractions must be a sequence of numbers in [0, 1], got {fractions!r}")
    checked = []
    for value in list(fractions):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ValueError(f"occlusion fraction {value!r} is not a number in [0, 1]")
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"occlusion fraction {value!r} is outside [0, 1]")
        checked.append(float(value))
    if not checked:
        raise ValueError("no occlusion fractions given")
    return checked


def occlusion_counts(region_size: int, fractions: Sequence[float]) -> np.ndarray:
    """Pixels occluded per fraction: round half up of fraction · |region| (1e-9 absorbs binary
    floating-point error, so 0.35 · 10 gives 4)."""
    fractions = np.asarray(check_fractions(fractions))
    return np.minimum(np.floor(fractions * region_size + 0.5 + 1e-9).astype(np.int64), region_size)


def _ranks(region: np.ndarray, pattern: str, generator: np.random.Generator) -> np.ndarray:
    """Rank (0 = occluded first) of every region pixel, (H, W) int64; pixels outside get |region|."""
    index = np.flatnonzero(region)  # row-major pixel indices
    if pattern == "sweep":
        angle = generator.uniform(0.0, 2.0 * np.pi)
        rows, columns = np.divmod(index, region.shape[1])
        projection = columns * np.cos(angle) + rows * np.sin(angle)
        order = np.lexsort((index, projection))  # by projection, ties by pixel index
    else:
        order = generator.permutation(len(index))
    ranks = np.full(region.size, len(index), dtype=np.int64)
    ranks[index[order]] = np.arange(len(index))
    return ranks.reshape(region.shape)


def occlusion_masks(
    regions: np.ndarray, fractions: Sequence[float], pattern: str = "sweep", seed: int = 0,
    ids: Sequence[object] | np.ndarray | None = None,
) -> np.ndarray:
    """Nested occlusion masks (F, N, H, W) bool of each image's ``regions`` (N, H, W) for each fraction (in
    the order given); see the module docstring. ``ids`` (one per image) key each image's generator."""
    regions = np.asarray(regions)
    if regions.dtype != bool or regions.ndim != 3:
        raise ValueError(f"regions must be bool (N, H, W), got {regions.dtype} {regions.shape}")
    fractions = check_fractions(fractions)
    if pattern not in PATTERNS:
        raise ValueError(f"unknown occlusion pattern {pattern!r}; valid: {', '.join(PATTERNS)}")
    if ids is None or len(ids) != len(regions):
        raise ValueError(f"give one image id per region: got {None if ids is None else len(ids)} for {len(regions)}")
    result = np.zeros((len(fractions), *regions.shape), dtype=bool)
    for i, (region, image_id) in enumerate(zip(regions, ids, strict=True)):
        ranks = _ranks(region, pattern, seeding.rng(seed, "occlusion", pattern, str(image_id)))
        counts = occlusion_counts(int(region.sum()), fractions)
        result[:, i] = ranks[None] < counts[:, None, None]
    return result


def occlude(images: np.ndarray, masks: np.ndarray, value: int = 0) -> np.ndarray:
    """A copy of uint8 ``images`` (N, H, W, 3) with the pixels of ``masks`` (N, H, W) set to ``value`` in
    every channel."""
    images, masks = np.asarray(images), np.asarray(masks)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if masks.dtype != bool or masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be bool {images.shape[:3]}, got {masks.dtype} {masks.shape}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or not 0 <= value <= 255:
        raise ValueError(f"occlusion value must be an integer in 0..255, got {value!r}")
    out = images.copy()
    out[masks] = value
    return out


def predicted_masks(logits: torch.Tensor, target_class: int) -> torch.Tensor:
    """(N, H, W) bool: argmax over channels == ``target_class``; ``logit > 0`` for one channel."""
    if logits.ndim != 4:
        raise ValueError(f"segmenter outputs must be (N, C, H, W), got shape {tuple(logits.shape)}")
    if not 0 <= target_class < logits.shape[1]:
        raise ValueError(f"target class {target_class} is not a channel of a {logits.shape[1]}-class segmenter")
    return predicted_regions(logits, torch.full((len(logits),), target_class, device=logits.device))


def _segment_and_explain(
    model: nn.Module, preprocess: Callable[[np.ndarray], torch.Tensor], images: np.ndarray,
    method: str, layer: str, target_class: int, settings: CamSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted masks (B, H, W) bool, raw maps (B, h, w) float64) of a uint8 batch."""
    inputs = preprocess(images)
    if not isinstance(inputs, torch.Tensor) or inputs.ndim != 4 or inputs.shape[0] != len(images):
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(f"preprocess must return a (N, C, H, W) tensor for {len(images)} images, got {shape}")
    with hooks.eval_mode(model), torch.inference_mode():
        logits = model(inputs.to(module_device(model)))
    if logits.ndim != 4 or logits.shape[2:] != images.shape[1:3]:
        raise ValueError(f"segmenter outputs must be (N, C, {images.shape[1]}, {images.shape[2]}), got {tuple(logits.shape)}")
    predicted = predicted_masks(logits, target_class).cpu().numpy()
    classes = torch.full((len(images),), target_class, dtype=torch.long)
    raw = compute(model, inputs, method, [layer], RegionTargets(classes, masks=None), settings=settings)[layer]
    raw = raw.double().numpy()
    if not np.isfinite(raw).all():
        raise FloatingPointError(f"{method} map of layer {layer!r} is not finite")
    return predicted, raw


def segment_and_explain(
    model: nn.Module,
    preprocess: Callable[[np.ndarray], torch.Tensor],
    images: np.ndarray,
    *,
    method: str = "ablationcam",
    layer: str = "encoder4",
    target_class: int = 1,
    settings: CamSettings = CamSettings(),
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted masks (N, H, W) bool, raw maps (N, h, w) float64 at layer resolution) of uint8 images
    (N, H, W, 3), ``batch_size`` at a time: what the study records per condition and what
    :func:`.figures.map_panels` shows."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    pieces = [
        _segment_and_explain(model, preprocess, images[start : start + batch_size], method, layer, target_class, settings)
        for start in range(0, len(images), batch_size)
    ]
    if not pieces:
        raise ValueError("no images given")
    return np.concatenate([p for p, _ in pieces]), np.concatenate([r for _, r in pieces])


def _run_jobs(run, batch, masks, counts, value, batch_size) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """Outputs (predicted mask, raw map) per job: ``(None, None, i)`` is image i unoccluded, ``(o, f, i)``
    image i under ``masks[o, f, i]`` (only where that occludes at least one pixel). Jobs of every condition
    share passes of up to ``batch_size`` images, so small sets still make full batches."""
    jobs = [(None, None, i) for i in range(len(batch))]
    jobs += [(int(o), int(f), int(i)) for o, f, i in zip(*np.nonzero(counts), strict=True)]
    outputs = {}
    for start in range(0, len(jobs), batch_size):
        group = jobs[start : start + batch_size]
        inputs = np.stack([
            batch[i] if o is None else occlude(batch[i : i + 1], masks[o, f, i : i + 1], value)[0] for o, f, i in group
        ])
        predicted, raw = run(inputs)
        outputs.update({job: (predicted[k], raw[k]) for k, job in enumerate(group)})
    return outputs


def _check_study_inputs(images, truth_masks, ids, batch_size, stability_scale) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if truth_masks.dtype != bool or truth_masks.shape != images.shape[:3]:
        raise ValueError(f"truth masks must be bool {images.shape[:3]}, got {truth_masks.dtype} {truth_masks.shape}")
    if len(ids) != len(images):
        raise ValueError(f"got {len(ids)} ids for {len(images)} images")
    keys = [str(i) for i in ids]
    if len(set(keys)) != len(keys):
        raise ValueError("image ids are not unique")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not stability_scale > 0:
        raise ValueError(f"stability_scale must be positive, got {stability_scale!r}")


def occlusion_study(
    model: nn.Module,
    preprocess: Callable[[np.ndarray], torch.Tensor],
    images: np.ndarray,
    truth_masks: np.ndarray,
    ids: Sequence[object] | np.ndarray,
    fractions: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    *,
    method: str = "ablationcam",
    layer: str = "encoder4",
    target_class: int = 1,
    value: int = 0,
    pattern: str = "sweep",
    seed: int = 0,
    settings: CamSettings = CamSettings(),
    stability_scale: float = 255.0,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Per-image table of the segmentation-ablation study's occlusion study (columns :data:`COLUMNS`; see the module docstring).

    ``preprocess`` turns uint8 images (N, H, W, 3) into the segmenter's float input (N, 3, H, W);
    ``truth_masks`` (N, H, W) bool are the ground-truth foregrounds, which define both the occluded
    regions and the reference of Dice / IoU / energy pointing game.
    """
    images, truth_masks = np.asarray(images), np.asarray(truth_masks)
    ids = list(np.asarray(ids, dtype=object).tolist()) if not isinstance(ids, list) else list(ids)
    _check_study_inputs(images, truth_masks, ids, batch_size, stability_scale)
    fractions = check_fractions(fractions)
    if len(set(fractions)) != len(fractions):
        raise ValueError(f"occlusion fractions must be distinct, got {fractions}")
    if pattern not in PATTERNS:
        raise ValueError(f"unknown occlusion pattern {pattern!r}; valid: {', '.join(PATTERNS)}")
    occlude(images[:0], truth_masks[:0], value)  # validates the value before any model work
    fractions = sorted(fractions)
    height, width = images.shape[1:3]
    run = lambda batch: _segment_and_explain(model, preprocess, batch, method, layer, target_class, settings)  # noqa: E731

    pieces: dict[tuple[int, int], list[pd.DataFrame]] = {
        (o, f): [] for o in range(len(OCCLUDED)) for f in range(len(fractions))
    }
    for start in range(0, len(images), batch_size):
        rows = slice(start, start + batch_size)
        batch, truth, batch_ids = images[rows], truth_masks[rows], ids[rows]
        # (occluded, fraction, image, H, W): foreground = the ground truth, background = its complement.
        masks = np.stack([occlusion_masks(region, fractions, pattern, seed, batch_ids) for region in (truth, ~truth)])
        counts = masks.sum(axis=(3, 4))
        outputs = _run_jobs(run, batch, masks, counts, value, batch_size)
        reference_maps = np.stack([outputs[None, None, i][1] for i in range(len(batch))])
        for o, occluded in enumerate(OCCLUDED):
            region_sizes = (truth if occluded == "foreground" else ~truth).sum(axis=(1, 2))
            for f, fraction in enumerate(fractions):
                # An image with nothing occluded is the original: its row reuses the unoccluded outputs.
                found = [outputs.get((o, f, i), outputs[None, None, i]) for i in range(len(batch))]
                predicted = np.stack([p for p, _ in found])
                raw = np.stack([r for _, r in found])
                remaining = truth & ~masks[o, f]
                upsampled = saliency_maps.normalise(saliency_maps.upsample(raw, (height, width)))
                epg = localisation.energy_pointing_game(upsampled, remaining)
                share = np.full(len(batch), np.nan)
                np.divide(counts[o, f], region_sizes, out=share, where=region_sizes > 0)
                pieces[(o, f)].append(pd.DataFrame({
                    "id": pd.Series(batch_ids, dtype=object),
                    "occluded": occluded,
                    "fraction": fraction,
                    "occluded_pixels": counts[o, f].astype(np.int64),
                    "occluded_pixels_fraction": share,
                    "predicted_pixels": predicted.sum(axis=(1, 2)).astype(np.int64),
                    "dice": segmentation.dice(predicted, truth).astype(float),
                    "iou": segmentation.iou(predicted, truth).astype(float),
                    "map_rmse": stability.cam_rmse(reference_maps, raw, stability_scale).astype(float),
                    "epg_remaining": np.where(remaining.any(axis=(1, 2)), epg, np.nan),
                }))
    frames = [frame for key in sorted(pieces) for frame in pieces[key]]
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype=object if column in ("id", "occluded") else float) for column in COLUMNS})
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]

