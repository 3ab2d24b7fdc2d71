"""Differentiable Grad-CAM attention loss (docs/studies.md, attention training, with the missing gradient fixed).

The attention study trains a classifier with L = λ·CE + (1 − λ)·L_att, where L_att rewards Grad-CAM energy inside an
expected region (there: a box derived from a lung segmentation; here: any per-image region, e.g. the
ground-truth mask). The original computed L_att in NumPy on a detached copy of the map, so it had no
gradient and its "attention" runs were cross-entropy runs. Here the Grad-CAM is built on the live model
with ``create_graph=True`` (:func:`live_gradcam`), so L_att is differentiable with respect to every
weight that shapes the map — the layers up to the CAM layer *and* the classifier head whose gradients
weight the channels.

Two differentiable forms of L_att (per image; the CAM is first upsampled bilinearly, ``align_corners=False``,
to the region's size H×W):

* ``"mass"``: L_att = 1 − Σ_region CAM / Σ CAM — the share of the map's mass outside the region. The
  denominator is clamped at ``MASS_EPS`` (1e-12), so an all-zero CAM gives L_att = 1 (no NaN; nothing of
  the map lies inside) and any map with Σ CAM ≥ 1e-12 is unaffected by the epsilon.
* ``"soft_threshold"``: L_att = 1 − mean over region pixels of σ((Ĉ − threshold) / temperature), with Ĉ
  the per-image min–max normalised CAM (a constant map normalises to 0). As temperature → 0 this tends to
  The attention study's hard form 1 − (share of region pixels with Ĉ > threshold), which :func:`hard_threshold_ratio`
  keeps as a reported (non-differentiable) metric. A constant (e.g. all-zero) CAM normalises to Ĉ = 0,
  so its L_att is 1 − σ(−threshold / temperature) (1 − 4.5e-5 at the defaults 0.5 and 0.05).

**Dead maps.** Grad-CAM ends in a ReLU, so a map that is 0 everywhere has no gradient: it is a fixed
point of the attention term (L_att = 1 in the mass form). A heavy attention weight can drive training
into it — on a small-object shortcut task (ResNet-18, 8 epochs) λ = 0.2 collapsed to all-zero maps and
chance accuracy, while λ = 0.5 and 0.8 did not; watch ``train_mass_inside`` (→ 0) in the history.

An **empty region** gives L_att = 1 in both forms (nothing can lie inside it), a constant with no
gradient; :class:`AttentionObjective` leaves such images out of the attention term, as it
does images whose label is in ``skip_classes``. The metrics :func:`cam_mass_inside` and
:func:`hard_threshold_ratio` are 0 for an empty region and for an all-zero CAM (the hard ratio also for
any constant CAM, which normalises to 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from camsweep.cams import gradient, hooks, layouts
from camsweep.data.imageset import ImageSet
from camsweep.models import training

LOSSES = ("mass", "soft_threshold")
ADAPTIVE = "adaptive"
MASS_EPS = 1e-12  # floor of Σ CAM in the mass ratio: an all-zero CAM has ratio 0 (L_att = 1), not NaN
_NORM_EPS = 1e-12  # floor of (max − min) in the min–max normalisation: a constant CAM normalises to 0


@dataclass(frozen=True)
class AttentionSettings:
    """How the attention term is built and weighted.

    * ``layer``: module name of the CAM layer as in ``model.named_modules()`` ("layer4" or "layer4.1"
      for torchvision ResNets, "features.28" for VGG16); it must output (N, K, h, w).
    * ``ce_weight``: λ in L = λ·CE + (1 − λ)·L_att, a number in [0, 1], or ``"adaptive"``:
      λ_epoch = max(0.2, 1 − 0.023·epoch) with the epoch counted from 0 (1.0, 0.977, …, reaching the
      floor 0.2 at epoch 35), the attention study's schedule: cross-entropy first, attention weighted more later.
    * ``loss``: ``"mass"`` or ``"soft_threshold"`` (see the module docstring).
    * ``threshold``: Ĉ level of the soft (and reported hard) threshold, in [0, 1].
    * ``temperature``: width of the sigmoid of the soft threshold, > 0.
    * ``skip_classes``: labels whose images get no attention term (the attention study's "No Finding").
    """

    layer: str
    ce_weight: float | str = 0.5
    loss: str = "mass"
    threshold: float = 0.5
    temperature: float = 0.05
    skip_classes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.layer, str) or not self.layer:
            raise ValueError(f"layer must be a non-empty module name, got {self.layer!r}")
        if isinstance(self.ce_weight, str):
            if self.ce_weight != ADAPTIVE:
                raise ValueError(f"ce_weight must be a number in [0, 1] or {ADAPTIVE!r}, got {self.ce_weight!r}")
        elif (
            isinstance(self.ce_weight, bool) or not isinstance(self.ce_weight, (int, float, np.integer, np.floating))
            or not 0.0 <= float(self.ce_weight) <= 1.0
        ):
            raise ValueError(f"ce_weight must be a number in [0, 1] or {ADAPTIVE!r}, got {self.ce_weight!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if not _is_number(self.threshold) or not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must be a number in [0, 1], got {self.threshold!r}")
        if not _is_number(self.temperature) or not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {self.temperature!r}")
        try:
            skip = tuple(self.skip_classes)
        except TypeError:
            raise ValueError(f"skip_classes must be a tuple of class indices, got {self.skip_classes!r}") from None
        if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0 for c in skip):
            raise ValueError(f"skip_classes must hold non-negative integer class indices, got {self.skip_classes!r}")
        object.__setattr__(self, "skip_classes", tuple(int(c) for c in skip))


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def ce_weight(settings: AttentionSettings, epoch: int) -> float:
    """λ for ``epoch`` (counted from 0): the fixed weight, or max(0.2, 1 − 0.023·epoch) when adaptive."""
    if epoch < 0:
        raise ValueError(f"epoch is counted from 0, got {epoch}")
    if settings.ce_weight == ADAPTIVE:
        return max(0.2, 1.0 - 0.023 * epoch)
    return float(settings.ce_weight)


def live_gradcam(
    model: nn.Module, inputs: torch.Tensor, classes: torch.Tensor, layer: str, *, create_graph: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, Grad-CAM) from one forward pass of ``model`` as it is (train or eval mode).

    Grad-CAM of image i for ``classes[i]`` at ``layer``'s resolution: ReLU(Σ_k mean_hw(∂y/∂A_k) · A_k),
    shape (N, h, w), float32 even under bfloat16 autocast (activations and gradients are upcast and the
    map is computed with autocast off). With ``create_graph=True`` the map is differentiable with respect
    to the model's weights (double backward); the logits are the same forward's, so a caller can take its
    cross-entropy from them. The forward hook is removed even if the forward or the gradient fails.
    """
    if not torch.is_grad_enabled() or torch.is_inference_mode_enabled():
        raise RuntimeError("live_gradcam needs autograd: call it outside torch.no_grad() / inference_mode()")
    classes = torch.as_tensor(classes, device=inputs.device).long()
    if classes.shape != (inputs.shape[0],):
        raise ValueError(f"classes must have shape ({inputs.shape[0]},), got {tuple(classes.shape)}")
    size = tuple(inputs.shape[-2:])
    with hooks.capture(hooks.resolve_layers(model, [layer]), layouts.Resolver(model), size) as store:
        logits = model(inputs)
    if layer not in store:
        raise RuntimeError(f"layer {layer!r} did not run during the forward pass")
    activations = store[layer]
    if not activations.requires_grad:
        raise RuntimeError(f"activations of layer {layer!r} do not require grad (frozen weights and inputs?)")
    score = logits.float().gather(1, classes[:, None]).sum()
    (grads,) = torch.autograd.grad(score, activations, create_graph=create_graph)
    with torch.autocast(inputs.device.type, enabled=False):
        cam = gradient.gradcam(activations.float(), grads.float())
    return logits, cam


def _as_tensors(cam: torch.Tensor, regions: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    cam = torch.as_tensor(cam)
    regions = torch.as_tensor(regions, device=cam.device)
    if cam.ndim != 3 or regions.ndim != 3 or cam.shape[0] != regions.shape[0]:
        raise ValueError(f"expected cam (N, h, w) and regions (N, H, W), got {tuple(cam.shape)} and {tuple(regions.shape)}")
    return cam.float(), regions.float()


def _upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(cam.shape[-2:]) == tuple(size):
        return cam
    return F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def _normalise(maps: torch.Tensor) -> torch.Tensor:
    """Per-image min–max normalisation to [0, 1]; a constant map becomes 0."""
    flat = maps.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1)
    high = flat.max(dim=1).values.view(-1, 1, 1)
    return (maps - low) / (high - low).clamp_min(_NORM_EPS)


def _mass_inside(upsampled: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Σ_region / Σ of maps already at the regions' size; the sum is floored at MASS_EPS."""
    return (upsampled * regions).sum(dim=(1, 2)) / upsampled.sum(dim=(1, 2)).clamp_min(MASS_EPS)


def attention_loss(cam: torch.Tensor, regions: torch.Tensor | np.ndarray, settings: AttentionSettings) -> torch.Tensor:
    """Per-image L_att (N,) in [0, 1] of ``cam`` (N, h, w) against ``regions`` (N, H, W) bool/float.

    Differentiable in ``cam``; see the module docstring for the two forms and their conventions: an
    empty region gives 1 (both forms), an all-zero CAM 1 ("mass") or 1 − σ(−threshold/temperature)
    ("soft_threshold").
    """
    cam, regions = _as_tensors(cam, regions)
    with torch.autocast(cam.device.type, enabled=False):
        upsampled = _upsample(cam, tuple(regions.shape[-2:]))
        region_size = regions.sum(dim=(1, 2))
        if settings.loss == "mass":
            return 1.0 - _mass_inside(upsampled, regions)
        soft = torch.sigmoid((_normalise(upsampled) - settings.threshold) / settings.temperature)
        covered = (soft * regions).sum(dim=(1, 2)) / region_size.clamp_min(1.0)
        return torch.where(region_size > 0, 1.0 - covered, torch.ones_like(covered))


@torch.no_grad()
def hard_threshold_ratio(cam: torch.Tensor, regions: torch.Tensor | np.ndarray, threshold: float = 0.5) -> torch.Tensor:
    """The attention study's original measure (N,): share of region pixels whose min–max normalised, upsampled CAM
    exceeds ``threshold``. Not differentiable (reported only). 0 for an empty region or a constant CAM."""
    cam, regions = _as_tensors(cam, regions)
    above = (_normalise(_upsample(cam, tuple(regions.shape[-2:]))) > threshold).float()
    return (above * regions).sum(dim=(1, 2)) / regions.sum(dim=(1, 2)).clamp_min(1.0)


@torch.no_grad()
def cam_mass_inside(cam: torch.Tensor, regions: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Σ_region CAM / Σ CAM (N,) after bilinear upsampling to the region size; 0 for an all-zero CAM
    (and for an empty region). Equals 1 − the ``"mass"`` L_att."""
    cam, regions = _as_tensors(cam, regions)
    return _mass_inside(_upsample(cam, tuple(regions.shape[-2:])), regions)


def check_regions(name: str, regions: np.ndarray | None, split: ImageSet) -> torch.Tensor:
    """``regions`` as a tensor after checking they are bool (N, H, W), one per image of ``split``."""
    expected = (len(split), *split.images.shape[1:3])
    if regions is None:
        raise ValueError(f"{name} (bool regions {expected}, e.g. the split's masks) are required when attention is set")
    regions = np.asarray(regions)
    if regions.shape != expected:
        raise ValueError(f"{name} must have shape {expected} (one region per image, at image size), got {regions.shape}")
    if regions.dtype != bool:
        raise ValueError(f"{name} must be bool, got {regions.dtype}")
    return torch.from_numpy(np.ascontiguousarray(regions))


def evaluate_attention(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, regions: torch.Tensor, layer: str, batch_size: int
) -> float:
    """Mean ``cam_mass_inside`` of the Grad-CAM (at ``layer``, for the true label, eval mode, float32)
    over the images whose region is non-empty; NaN if there are none."""
    model.eval()
    total, count = 0.0, 0
    with torch.enable_grad():
        for start in range(0, len(labels), batch_size):
            part = slice(start, start + batch_size)
            keep = regions[part].flatten(1).any(dim=1)
            if not keep.any():
                continue
            _, cam = live_gradcam(model, inputs[part], labels[part], layer, create_graph=False)
            total += cam_mass_inside(cam.detach(), regions[part])[keep].sum().item()
            count += int(keep.sum().item())
    return total / count if count else float("nan")


class AttentionObjective:
    """The attention study's objective for :func:`camsweep.models.training.train`: L = λ·CE + (1 − λ)·mean_i L_att,i.

    λ = :func:`ce_weight` (``settings``, epoch − 1) (the history's epochs count from 1, the schedule's from
    0). The Grad-CAM of image i at ``settings.layer`` explains its true label, is built in the same forward
    as the logits and is differentiable (:func:`live_gradcam`); the mean runs over the batch's images whose
    label is not in ``skip_classes`` and whose region is non-empty (0 if none).

    ``train_regions`` (N, H, W) bool hold one region per image of the clean train split, at image size;
    training item i takes region i mod N (perturbed copies keep their image's region) and flips flip it
    with its image. The history gains ``ce_weight``, ``attention_loss`` (mean L_att),
    ``train_mass_inside`` and ``train_hard_ratio`` (:func:`cam_mass_inside` and :func:`hard_threshold_ratio`
    at ``settings.threshold``, of the training-mode maps), each averaged over the epoch's images that carry
    the term; ``train_loss`` stays the cross-entropy. With ``val_regions`` it also reports
    ``val_mass_inside`` (eval-mode Grad-CAM of the true label, float32; see :func:`evaluate_attention`).
    """

    def __init__(self, settings: AttentionSettings, train_regions: np.ndarray | None, val_regions: np.ndarray | None = None):
        self.settings = settings
        self._given = (train_regions, val_regions)

    def prepare(self, task: training.ClassifierTask) -> None:
        given_train, given_val = self._given
        train_regions = check_regions("train_regions", given_train, task.train_split)
        val_regions = None if given_val is None else check_regions("val_regions", given_val, task.val_set)
        hooks.resolve_layers(task.model, [self.settings.layer])  # fail before training on a bad name
        self.train_regions = train_regions.to(task.device)
        self.val_regions = None if val_regions is None else val_regions.to(task.device)
        self.skip = torch.as_tensor(self.settings.skip_classes, dtype=task.labels.dtype, device=task.device)

    def start_epoch(self, epoch: int) -> None:
        self.lam = ce_weight(self.settings, epoch - 1)
        self.att_sum, self.mass_sum, self.hard_sum, self.count = 0.0, 0.0, 0.0, 0

    def step(
        self, task: training.ClassifierTask, batch: torch.Tensor, target: torch.Tensor, index: torch.Tensor,
        flips: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        regions = self.train_regions[index % len(self.train_regions)]
        if flips is not None:
            regions = training.apply_flips(regions, *flips)
        keep = regions.flatten(1).any(dim=1) & ~torch.isin(target, self.skip)
        with training.autocast(task.device, task.compute_dtype):
            logits, cam = live_gradcam(task.model, batch, target, self.settings.layer)
            ce = task.cross_entropy(logits, target)
        att = attention_loss(cam, regions, self.settings)  # float32, autocast off
        att_mean = att[keep].mean() if keep.any() else att.sum() * 0.0
        kept = int(keep.sum().item())
        if kept:
            self.att_sum += att.detach()[keep].sum().item()
            self.mass_sum += cam_mass_inside(cam.detach()[keep], regions[keep]).sum().item()
            self.hard_sum += hard_threshold_ratio(cam.detach()[keep], regions[keep], self.settings.threshold).sum().item()
            self.count += kept
        return self.lam * ce + (1.0 - self.lam) * att_mean, ce, logits

    def epoch_stats(self, task: training.ClassifierTask) -> dict[str, float]:
        def mean(total: float) -> float:
            return total / self.count if self.count else float("nan")

        stats = {
            "ce_weight": self.lam, "attention_loss": mean(self.att_sum),
            "train_mass_inside": mean(self.mass_sum), "train_hard_ratio": mean(self.hard_sum),
        }
        if self.val_regions is not None:
            stats["val_mass_inside"] = evaluate_attention(
                task.model, task.val_inputs, task.val_labels, self.val_regions, self.settings.layer, 256
            )
        return stats
