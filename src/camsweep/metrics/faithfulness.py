"""Model-dependent faithfulness of saliency maps: average drop / increase, insertion / deletion, saliency metric
(ROAD, which builds on this module's conventions, lives in :mod:`camsweep.metrics.road`).

Every metric asks the classifier again about images derived from the explained image, so its cost is the
number of model forwards. All of them are batched in torch: derived images are built ``batch_size`` at a time
(never all at once) and sent to the model together.

Inputs and conventions shared by all metrics
--------------------------------------------
* ``probabilities``: a callable taking a float tensor ``(B, 3, H, W)`` of un-normalised pixels in [0, 1] and
  returning softmax probabilities ``(B, K)``. The caller wraps the model (mean/std preprocessing, device, eval
  mode); this module only ever calls it with at most ``batch_size`` images. Calls run under ``torch.no_grad``.
* ``images``: float tensor ``(N, 3, H, W)`` in [0, 1] at the model's input size; anything outside [0, 1]
  (or NaN) raises ``ValueError``, since normalised images passed by mistake would score silently wrong.
  Derived images keep the images' dtype and device.
* ``maps``: ``(N, H, W)`` at image resolution (tensor or numpy, see :func:`camsweep.maps.upsample`). Each map
  is min-max normalised to [0, 1] in float64 (:func:`normalise_maps`, the torch twin of
  :func:`camsweep.maps.normalise`): a **constant map** (all-zero included) becomes all zeros, and NaN raises
  ``ValueError("saliency map contains NaN")``. Normalisation is the identity on a map's pixel ranking, so
  positive scaling or shifting of a map changes no score.
* ``targets``: integer tensor ``(N,)``, the class explained in each image; ``p_c`` below is its probability.
* Lengths of images, maps, targets and boxes must agree; a mismatch raises ``ValueError`` naming the argument.
* Results are per-image numpy float64 arrays; the dataset value of a metric is their mean. ``N = 0`` gives
  empty arrays without calling the model.

Average drop and increase in confidence (Chattopadhay et al. 2018, Grad-CAM++)
------------------------------------------------------------------------------
``p_c`` is the probability on the image, ``o_c`` the probability on the explanation image ``image ⊙ S`` (the
normalised map S broadcast over the three channels). Per image::

    drop = max(0, p_c − o_c) / p_c        (a fraction in [0, 1]; the paper reports 100 × the mean, in %)
    increase = 1.0 if o_c > p_c else 0.0  (strictly greater; the paper reports 100 × the mean, in %)

Lower average drop and higher increase are better. ``p_c = 0`` (underflow) gives ``drop = 0``: there is no
confidence to lose. A constant map is all zeros after normalisation, so its explanation image is the **black
image** and it is scored on that (not skipped): an uninformative map explains nothing of the image.

Insertion and deletion (Petsiuk et al. 2018, RISE)
--------------------------------------------------
* **Order**: pixels by decreasing normalised saliency; ties in ascending row-major flat index (a stable sort),
  so the order is deterministic. A constant map is scored with exactly that tie order (row-major), not skipped.
* **Steps**: ``k = ceil(H·W / steps)`` pixels change per step (all three channels of a pixel together), and the
  curve has ``steps + 1`` points: after step ``j`` the first ``n_j = min(j·k, H·W)`` pixels of the order have
  changed. Default ``steps = 100`` (RISE changed 224 pixels per step of a 224 × 224 image, i.e. 224 steps).
  When ``k`` does not divide ``H·W``, or ``steps > H·W`` (then ``k = 1``), the last points repeat 100 %; they
  are filled in from the 100 % image, not evaluated again, and add no area.
* **Deletion** starts from the image and replaces pixels by the canvas; **insertion** starts from the canvas
  and puts image pixels back. Both curves run from the first to the last of these images.
* **Canvas**: ``"constant"`` — every pixel set to ``constant`` (a value, or one per channel), default 0
  (black); ``"blurred"`` — the image convolved with a separable Gaussian of ``blur_kernel_size`` taps and
  standard deviation ``blur_sigma`` (weights ``exp(−t²/2σ²)``, ``t = −r … r``, normalised to sum 1) with
  replicated borders. Defaults 11 taps, σ = 5, RISE's kernel. RISE used the blurred canvas for insertion and
  zeros for deletion, and these are the defaults here too; but RISE zero-padded the blur (darkening a 5-pixel
  frame, a third of a 56-pixel image) and worked on mean/std-normalised tensors, so its zero canvas was the
  dataset's mean colour rather than black (pass ``constant=`` the mean colour to match it).
* **Curve and AUC**: the class-c probability at each point against ``x_j = n_j / (H·W)``, the fraction of
  pixels changed (``j / steps`` exactly when ``k`` divides ``H·W``), from 0 to 1; the AUC is the trapezoid
  rule over it, so it lies in [0, 1]. Higher insertion AUC and lower deletion AUC are better.

Saliency metric (Dabkowski & Gal 2017, "Real time image saliency for black box classifiers")
--------------------------------------------------------------------------------------------
``s = log(max(a, area_floor)) − log(p_c(crop))`` in natural logs, lower is better. ``a`` is the box's area
over the image's (boxes are inclusive ``(x0, y0, x1, y1)``, see :mod:`camsweep.regions`; the caller derives
them from the thresholded map). ``crop`` is the box region resized back to ``H × W`` by bilinear interpolation
with half-pixel centres (torch ``interpolate(mode="bilinear", align_corners=False)`` of the cropped tensor;
crops never shrink, so no antialiasing is involved), then classified. ``area_floor = 0.05`` as in the paper,
so tiny boxes are not rewarded without bound. An **empty region** (:data:`camsweep.regions.NO_BOX`) has no
salient region to crop: its score, area and probability are NaN and it costs no forward. ``p_c(crop) = 0``
(underflow) gives ``s = +inf``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


log = logging.getLogger(__name__)

ProbabilityFunction = Callable[[Tensor], Tensor]
CanvasKind = Literal["blurred", "constant"]

DEFAULT_STEPS = 100
DEFAULT_BLUR_KERNEL_SIZE = 11
DEFAULT_BLUR_SIGMA = 5.0
DEFAULT_BATCH_SIZE = 64
DEFAULT_AREA_FLOOR = 0.05


@dataclass(frozen=True)
class ConfidenceChange:
    """Per-image average-drop terms; ``average_drop`` and ``increase_in_confidence`` are the dataset means."""

    drop: np.ndarray  # (N,) max(0, p_c − o_c) / p_c in [0, 1]
    increase: np.ndarray  # (N,) 1.0 where o_c > p_c, else 0.0
    probability: np.ndarray  # (N,) p_c on the image
    masked_probability: np.ndarray  # (N,) o_c on image ⊙ normalised map

    @property
    def average_drop(self) -> float:
        return float(self.drop.mean()) if self.drop.size else math.nan

    @property
    def increase_in_confidence(self) -> float:
        return float(self.increase.mean()) if self.increase.size else math.nan


@dataclass(frozen=True)
class PerturbationCurves:
    """Insertion or deletion curves: ``curves[i, j]`` is p_c with a fraction ``fractions[j]`` of pixels changed."""

    auc: np.ndarray  # (N,) trapezoid area under each curve, in [0, 1]
    curves: np.ndarray  # (N, steps + 1)
    fractions: np.ndarray  # (steps + 1,) from 0 to 1, non-decreasing


@dataclass(frozen=True)
class SaliencyScores:
    """Per-image saliency metric; NaN everywhere for an empty box."""

    score: np.ndarray  # (N,) log(max(a, floor)) − log(p_c(crop)); lower is better
    area_fraction: np.ndarray  # (N,) a = box area / image area
    crop_probability: np.ndarray  # (N,) p_c of the resized crop


# --------------------------------------------------------------------------------------------- validation


def _check_images(images: Tensor | np.ndarray) -> Tensor:
    images = torch.as_tensor(images)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W), got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"images must be a float tensor in [0, 1], got dtype {images.dtype}")
    # Comparisons are False for NaN, so NaN pixels fail this check too.
    if images.numel() and not bool(((images >= 0) & (images <= 1)).all()):
        raise ValueError("images must lie in [0, 1] (un-normalised pixels, no NaN)")
    return images


def _check_length(name: str, values: Tensor | np.ndarray, count: int) -> None:
    if len(values) != count:
        raise ValueError(f"{name} has {len(values)} entries but images has {count}")


def _check_targets(targets: Tensor | np.ndarray, count: int, device: torch.device) -> Tensor:
    targets = torch.as_tensor(targets, device=device)
    if targets.ndim != 1:
        raise ValueError(f"targets must be (N,), got shape {tuple(targets.shape)}")
    _check_length("targets", targets, count)
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise ValueError(f"targets must be integer class indices, got dtype {targets.dtype}")
    if targets.numel() and int(targets.min()) < 0:
        raise ValueError("targets must be non-negative class indices")
    return targets.long()


def _check_positive(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def normalise_maps(maps: Tensor | np.ndarray, device: torch.device | str | None = None) -> Tensor:
    """Min-max normalise each map of ``(N, H, W)`` to [0, 1] in float64; a constant map becomes all zeros.

    The torch twin of :func:`camsweep.maps.normalise`; NaN anywhere raises ``ValueError``.
    """
    if isinstance(maps, Tensor):
        maps = maps.detach().to(device=device, dtype=torch.float64)
    else:
        maps = torch.tensor(np.asarray(maps, dtype=np.float64), device=device)  # a copy: the array may be read-only
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, H, W), got shape {tuple(maps.shape)}")
    if bool(torch.isnan(maps).any()):
        raise ValueError("saliency map contains NaN")
    if maps.numel() == 0:
        return maps
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = maps.amax(dim=(1, 2), keepdim=True) - low
    safe_span = torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, (maps - low) / safe_span, torch.zeros_like(maps))


def _checked_maps(maps: Tensor | np.ndarray, images: Tensor) -> Tensor:
    normalised = normalise_maps(maps, images.device)
    _check_length("maps", normalised, len(images))
    if normalised.shape[1:] != images.shape[2:]:
        raise ValueError(
            f"maps must be at image resolution {tuple(images.shape[2:])}, got {tuple(normalised.shape[1:])} "
            "(upsample them first, see camsweep.maps.upsample)"
        )
    return normalised


# ----------------------------------------------------------------------------------------- model queries


def _evaluate(
    probabilities: ProbabilityFunction, build_batch: Callable[[Tensor], Tensor], classes: Tensor, batch_size: int,
) -> Tensor:
    """p_c of ``len(classes)`` derived images, built and classified ``batch_size`` at a time → float64 on CPU.

    ``build_batch(indices)`` returns the derived images with those indices, so no more than one batch of them
    ever exists.
    """
    scores = torch.empty(len(classes), dtype=torch.float64)
    for begin in range(0, len(classes), batch_size):
        indices = torch.arange(begin, min(begin + batch_size, len(classes)), device=classes.device)
        batch = build_batch(indices)
        output = torch.as_tensor(probabilities(batch))
        if output.ndim != 2 or output.shape[0] != len(batch):
            raise ValueError(f"probabilities returned shape {tuple(output.shape)} for a batch of {len(batch)} images")
        wanted = classes[indices].to(output.device)
        if int(wanted.max()) >= output.shape[1]:
            raise ValueError(f"a target class is out of range for a model with {output.shape[1]} classes")
        scores[begin : begin + len(batch)] = output.gather(1, wanted[:, None])[:, 0].detach().to("cpu", torch.float64)
    return scores


# ---------------------------------------------------------------------------------- average drop / increase


@torch.no_grad()
def confidence_change(
    probabilities: ProbabilityFunction, images: Tensor, maps: Tensor | np.ndarray, targets: Tensor,
    *, batch_size: int = DEFAULT_BATCH_SIZE,
) -> ConfidenceChange:
    """Average drop and increase in confidence (Grad-CAM++), per image; see the module docstring."""
    images = _check_images(images)
    normalised = _checked_maps(maps, images)
    targets = _check_targets(targets, len(images), images.device)
    batch_size = _check_positive("batch_size", batch_size)
    weights = normalised.to(images.dtype)[:, None]  # one weight per pixel, shared by the channels

    probability = _evaluate(probabilities, lambda index: images[index], targets, batch_size)
    masked = _evaluate(probabilities, lambda index: images[index] * weights[index], targets, batch_size)
    lost = (probability - masked).clamp(min=0)
    drop = torch.where(probability > 0, lost / probability.clamp(min=torch.finfo(torch.float64).tiny), 0.0)
    increase = (masked > probability).to(torch.float64)
    return ConfidenceChange(drop.numpy(), increase.numpy(), probability.numpy(), masked.numpy())


# ------------------------------------------------------------------------------------ insertion / deletion


def gaussian_blur(
    images: Tensor, kernel_size: int = DEFAULT_BLUR_KERNEL_SIZE, sigma: float = DEFAULT_BLUR_SIGMA,
) -> Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` with replicated borders (odd ``kernel_size`` taps)."""
    kernel_size = _check_positive("blur_kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"blur_kernel_size must be odd, got {kernel_size}")
    if not sigma > 0:
        raise ValueError(f"blur_sigma must be positive, got {sigma}")
    radius = kernel_size // 2
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-(taps**2) / (2 * sigma**2))
    weights = (weights / weights.sum()).to(device=images.device, dtype=images.dtype)
    channels = images.shape[1]
    # Replicated borders: zero padding (RISE) would fade a radius-wide frame towards black.
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, weights.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(rows, weights.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def make_canvas(
    images: Tensor, canvas: CanvasKind, constant: float | Sequence[float] = 0.0,
    blur_kernel_size: int = DEFAULT_BLUR_KERNEL_SIZE, blur_sigma: float = DEFAULT_BLUR_SIGMA,
) -> Tensor:
    """The canvas images ``(N, 3, H, W)``: the blurred images, or a constant colour."""
    if canvas == "blurred":
        return gaussian_blur(images, blur_kernel_size, blur_sigma)
    if canvas == "constant":
        colour = torch.as_tensor(constant, dtype=images.dtype, device=images.device).reshape(-1)
        if colour.numel() not in (1, images.shape[1]):
            raise ValueError(f"constant must be one value or one per channel, got {colour.numel()} values")
        return colour.view(1, -1, 1, 1).expand_as(images)
    raise ValueError(f"unknown canvas {canvas!r}; valid: blurred, constant")


def step_pixel_counts(pixels: int, steps: int) -> Tensor:
    """``n_j = min(j·ceil(pixels / steps), pixels)`` for ``j = 0 … steps``: pixels changed after each step."""
    per_step = math.ceil(pixels / steps)
    return (torch.arange(steps + 1) * per_step).clamp(max=pixels)


def saliency_ranks(normalised: Tensor) -> Tensor:
    """Rank of every pixel ``(N, H·W)`` in order of decreasing saliency, ties by ascending flat index."""
    flat = normalised.flatten(1)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    positions = torch.arange(flat.shape[1], device=flat.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, positions)


def _perturbation_curves(
    probabilities: ProbabilityFunction, images: Tensor, maps: Tensor | np.ndarray, targets: Tensor, *,
    insert: bool, steps: int, canvas: CanvasKind, constant: float | Sequence[float], blur_kernel_size: int,
    blur_sigma: float, batch_size: int,
) -> PerturbationCurves:
    images = _check_images(images)
    normalised = _checked_maps(maps, images)
    targets = _check_targets(targets, len(images), images.device)
    steps = _check_positive("steps", steps)
    batch_size = _check_positive("batch_size", batch_size)
    count, _, height, width = images.shape
    pixels = height * width
    background = make_canvas(images, canvas, constant, blur_kernel_size, blur_sigma)
    start, finish = (background, images) if insert else (images, background)

    changed_counts = step_pixel_counts(pixels, steps)
    # Points past the first 100 % image repeat it: evaluate only up to there, then fill the rest in.
    distinct = int(torch.searchsorted(changed_counts, pixels)) + 1
    thresholds = changed_counts[:distinct].to(images.device)
    ranks = saliency_ranks(normalised)

    def build_batch(index: Tensor) -> Tensor:
        # Derived image number `index` is step `index % distinct` of image `index // distinct`.
        image_index, step_index = index // distinct, index % distinct
        changed = ranks[image_index] < thresholds[step_index, None]
        changed = changed.view(len(index), 1, height, width)
        return torch.where(changed, finish[image_index], start[image_index])

    step_classes = targets.repeat_interleave(distinct)
    evaluated = _evaluate(probabilities, build_batch, step_classes, batch_size).view(count, distinct)
    fractions = changed_counts.to(torch.float64) / pixels
    curves = evaluated[:, torch.arange(steps + 1).clamp(max=distinct - 1)]
    auc = torch.trapezoid(curves, fractions, dim=1) if count else torch.zeros(0, dtype=torch.float64)
    return PerturbationCurves(auc.numpy(), curves.numpy(), fractions.numpy())


@torch.no_grad()
def insertion(
    probabilities: ProbabilityFunction, images: Tensor, maps: Tensor | np.ndarray, targets: Tensor, *,
    steps: int = DEFAULT_STEPS, canvas: CanvasKind = "blurred", constant: float | Sequence[float] = 0.0,
    blur_kernel_size: int = DEFAULT_BLUR_KERNEL_SIZE, blur_sigma: float = DEFAULT_BLUR_SIGMA,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> PerturbationCurves:
    """Insertion curves and AUCs (RISE): image pixels put back onto the canvas, most salient first."""
    return _perturbation_curves(
        probabilities, images, maps, targets, insert=True, steps=steps, canvas=canvas, constant=constant,
        blur_kernel_size=blur_kernel_size, blur_sigma=blur_sigma, batch_size=batch_size,
    )


@torch.no_grad()
def deletion(
    probabilities: ProbabilityFunction, images: Tensor, maps: Tensor | np.ndarray, targets: Tensor, *,
    steps: int = DEFAULT_STEPS, canvas: CanvasKind = "constant", constant: float | Sequence[float] = 0.0,
    blur_kernel_size: int = DEFAULT_BLUR_KERNEL_SIZE, blur_sigma: float = DEFAULT_BLUR_SIGMA,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> PerturbationCurves:
    """Deletion curves and AUCs (RISE): image pixels replaced by the canvas, most salient first."""
    return _perturbation_curves(
        probabilities, images, maps, targets, insert=False, steps=steps, canvas=canvas, constant=constant,
        blur_kernel_size=blur_kernel_size, blur_sigma=blur_sigma, batch_size=batch_size,
    )


# ---------------------------------------------------------------------------------------- saliency metric


def _checked_boxes(boxes: Tensor | np.ndarray, images: Tensor) -> tuple[Tensor, Tensor]:
    """Boxes as a long tensor ``(N, 4)`` and a mask of the non-empty ones; anything else raises."""
    boxes = torch.as_tensor(boxes if isinstance(boxes, Tensor) else np.asarray(boxes), device=images.device)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4), got shape {tuple(boxes.shape)}")
    _check_length("boxes", boxes, len(images))
    if boxes.is_floating_point():
        raise ValueError(f"boxes must be integer pixel coordinates, got dtype {boxes.dtype}")
    boxes = boxes.long()
    height, width = images.shape[2:]
    empty = (boxes == -1).all(dim=1)
    x0, y0, x1, y1 = boxes.unbind(dim=1)
    valid = (x0 >= 0) & (y0 >= 0) & (x0 <= x1) & (y0 <= y1) & (x1 < width) & (y1 < height)
    if not bool((valid | empty).all()):
        raise ValueError(
            f"boxes must be inclusive (x0, y0, x1, y1) inside a {height}×{width} image, or NO_BOX (-1, -1, -1, -1)"
        )
    return boxes, ~empty


def crop_and_resize(images: Tensor, boxes: Tensor) -> Tensor:
    """Each image's inclusive box resized back to ``H × W``: bilinear, half-pixel centres, batched.

    Equals ``interpolate(image[..., y0:y1+1, x0:x1+1], (H, W), mode="bilinear", align_corners=False)`` per
    image: that samples crop coordinate ``(j + 0.5)·w/W − 0.5`` clamped to the crop, so sampling the full
    image at the clamped coordinate never touches a pixel outside the box.
    """
    height, width = images.shape[2:]
    dtype = images.dtype if images.dtype == torch.float64 else torch.float32
    x0, y0, x1, y1 = boxes.to(dtype).unbind(dim=1)

    def sample_coordinates(low: Tensor, high: Tensor, size: int) -> Tensor:
        extent = (high - low + 1)[:, None]
        inside = (torch.arange(size, dtype=dtype, device=images.device) + 0.5) * extent / size - 0.5
        pixel = low[:, None] + torch.minimum(inside.clamp(min=0), extent - 1)
        return (2 * pixel + 1) / size - 1  # grid_sample's [-1, 1] coordinates with align_corners=False

    xs = sample_coordinates(x0, x1, width)[:, None, :].expand(-1, height, -1)
    ys = sample_coordinates(y0, y1, height)[:, :, None].expand(-1, -1, width)
    grid = torch.stack([xs, ys], dim=-1).to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def saliency_metric(
    probabilities: ProbabilityFunction, images: Tensor, boxes: Tensor | np.ndarray, targets: Tensor, *,
    area_floor: float = DEFAULT_AREA_FLOOR, batch_size: int = DEFAULT_BATCH_SIZE,
) -> SaliencyScores:
    """Dabkowski & Gal's saliency metric of each box, ``log(max(a, area_floor)) − log p_c(crop)``; NaN for NO_BOX."""
    images = _check_images(images)
    boxes, nonempty = _checked_boxes(boxes, images)
    targets = _check_targets(targets, len(images), images.device)
    batch_size = _check_positive("batch_size", batch_size)
    if not 0 < area_floor <= 1:
        raise ValueError(f"area_floor must be in (0, 1], got {area_floor}")
    height, width = images.shape[2:]

    area = torch.full((len(images),), math.nan, dtype=torch.float64)
    crop_probability = area.clone()
    kept = torch.nonzero(nonempty).flatten()
    kept_boxes = boxes[kept]
    box_area = (kept_boxes[:, 2] - kept_boxes[:, 0] + 1) * (kept_boxes[:, 3] - kept_boxes[:, 1] + 1)
    area[kept.cpu()] = box_area.cpu().to(torch.float64) / (height * width)
    crop_probability[kept.cpu()] = _evaluate(
        probabilities, lambda index: crop_and_resize(images[kept[index]], kept_boxes[index]), targets[kept], batch_size,
    )
    score = torch.log(area.clamp(min=area_floor)) - torch.log(crop_probability)
    return SaliencyScores(score.numpy(), area.numpy(), crop_probability.numpy())
