"""Ablation-CAM (Desai & Ramaswamy 2020) that re-runs only what follows the layer.

For channel k of layer activations A, ablation sets A_k to zero (as in the paper) and re-scores the target:
y_k. The channel weight is the relative drop

    w_k = (y − y_k) / max(|y|, ε),   ε = 1e-7,  map = ReLU(Σ_k w_k A_k).

For y > 0 this is the paper's (y − y_k)/y. Dividing by |y| instead of y keeps the sign of the drop when
y ≤ 0 (segmentation logit sums are often negative): a channel whose removal lowers the score still gets a
positive weight; the paper's formula would flip every weight and so the map. ε only avoids 0/0; as a
per-image constant it does not change the normalised map.

Three ways to get y_k, fastest first, all giving the same weights:

* **closed form** — the tail after the layer is global average pool → flatten → linear (a ResNet's
  ``layer4``): y − y_k = W_ck · mean(A_k), no re-run at all;
* **tail only** — :func:`camsweep.cams.split.split_at` cuts the model with ``torch.fx``; the head runs
  once and the tail runs for batches of (image, channel) rows, fed every tensor crossing the cut (a
  U-Net's skip tensors too);
* **full re-run** — for models ``torch.fx`` cannot trace: the whole network per batch of rows, the
  layer's output replaced by a hook, with a warning.
"""

from __future__ import annotations

import logging
import warnings

import torch
from torch import nn

from camsweep.cams import budget, fusion, hooks, layouts, split
from camsweep.cams.targets import Targets

log = logging.getLogger(__name__)

EPSILON = 1e-7


def weights_from_drops(drops: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Score drops (N, K) relative to the original scores (N,): (y − y_k) / max(|y|, ε)."""
    return drops / original.abs().clamp_min(EPSILON)[:, None]


def weights_from_scores(original: torch.Tensor, ablated: torch.Tensor) -> torch.Tensor:
    """(y − y_k) / max(|y|, ε); ``original`` (N,), ``ablated`` (N, K)."""
    return weights_from_drops(original[:, None] - ablated, original)


STRATEGIES = ("auto", "tail", "full")


def cut_for(model: nn.Module, layer: str, strategy: str = "auto") -> split.Split | None:
    """The ``torch.fx`` cut at ``layer`` (its tail conv–BN-fused), or None (with a warning) when only full
    re-runs are possible. Call in eval mode. ``strategy``: ``auto``; ``tail`` raises instead of falling
    back; ``full`` never cuts."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown ablation strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    if strategy == "full":
        return None
    try:
        cut = split.split_at(model, layer)
    except split.SplitError as error:
        if strategy == "tail":
            raise
        warnings.warn(f"Ablation-CAM re-runs the whole model for every channel batch: {error}", stacklevel=3)
        return None
    return split.Split(cut.head, fusion.inference_copy(cut.tail), cut.crossing)


def ablation_cam(
    model: nn.Module,
    images: torch.Tensor,
    layer: str,
    targets: Targets,
    memory_budget_mb: float,
    cut: split.Split | None,
    closed_form: bool = True,
    resolver: layouts.Resolver | None = None,
) -> torch.Tensor:
    """Ablation-CAM maps (N, h, w) of ``layer``, re-running the tail of ``cut`` (from :func:`cut_for`; None:
    the whole model). ``closed_form=False`` re-runs a linear-readout tail too (for tests and benchmarks).
    ``resolver`` reads the layer's layout (default: the rule table and the shape); channels are zeroed in
    the (N, C, h, w) view and written back in the layer's own layout."""
    resolver = resolver or layouts.Resolver(model)
    with torch.inference_mode():
        if cut is None:
            return _full_reruns(model, images, layer, targets, memory_budget_mb, resolver)
        crossing = cut.head(images)
        if not all(_per_image(value, len(images)) for value in crossing):
            # e.g. a batch size read with x.size(0) before the cut: the tail cannot take other batch sizes
            warnings.warn(
                f"Ablation-CAM re-runs the whole model: a value crossing the cut at {layer!r} is not a per-image tensor",
                stacklevel=3,
            )
            return _full_reruns(model, images, layer, targets, memory_budget_mb, resolver)
        view = resolver.view(layer, crossing[0], tuple(images.shape[-2:]))
        activations = view.to_nchw(crossing[0])
        hooks.check_finite(layer, activations)
        outputs = cut.tail(*_copies(crossing))  # the tail may work in place on what it is given
        bound = targets.bind(outputs)
        original = bound.scores(outputs).float()
        # The closed form reads a pooled (N, C, h, w) readout; other layouts re-run their tails.
        readout = split.linear_readout(cut) if closed_form and view.layout.kind == "nchw" else None
        if readout is not None:
            # Zeroing A_k removes exactly its term of the linear readout: y − y_k = W_ck · mean(A_k).
            drops = activations.float().mean(dim=(2, 3)) * readout.weight.float()[bound.classes]
            weights = weights_from_drops(drops, original)
        else:
            ablated = _tail_scores(cut, crossing, view, bound, memory_budget_mb)
            weights = weights_from_scores(original, ablated)
        return torch.relu(torch.einsum("nk,nkhw->nhw", weights, activations.float()))


def _rows(count: int, channels: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.arange(count, device=device).repeat_interleave(channels)
    return images, torch.arange(channels, device=device).repeat(count)


def _ablate(activations: torch.Tensor, images: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    rows = activations[images].clone()
    rows[torch.arange(len(rows), device=rows.device), channels] = 0
    return rows


def _tail_scores(cut: split.Split, crossing: tuple, view: layouts.View, bound, memory_budget_mb: float) -> torch.Tensor:
    """y_k for every (image, channel), running the tail on batches of ablated rows."""
    raw = crossing[0]
    activations = view.to_nchw(raw)
    count, channels = activations.shape[:2]
    images, channel_ids = _rows(count, channels, activations.device)
    probe = [value[:1].clone() if isinstance(value, torch.Tensor) else value for value in crossing]
    rows_per_batch = budget.rows_per_batch(cut.tail, probe, memory_budget_mb)
    scores = torch.empty(len(images), device=activations.device)
    for start in range(0, len(images), rows_per_batch):
        batch_images = images[start : start + rows_per_batch]
        batch_channels = channel_ids[start : start + rows_per_batch]
        ablated = view.restore(_ablate(activations, batch_images, batch_channels), raw[batch_images])
        others = [value[batch_images] for value in crossing[1:]]
        scores[start : start + len(batch_images)] = bound.scores(cut.tail(ablated, *others), batch_images).float()
    return scores.view(count, channels)


def _copies(values: tuple) -> list:
    return [value.clone() if isinstance(value, torch.Tensor) else value for value in values]


def _per_image(value, count: int) -> bool:
    return isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == count


def _full_reruns(
    model: nn.Module,
    images: torch.Tensor,
    layer: str,
    targets: Targets,
    memory_budget_mb: float,
    resolver: layouts.Resolver,
) -> torch.Tensor:
    module = hooks.resolve_layers(model, [layer])[layer]
    with hooks.capture({layer: module}, resolver, tuple(images.shape[-2:])) as store:
        outputs = model(images)
    activations, view, raw = store[layer], store.views[layer], store.outputs[layer]
    hooks.check_finite(layer, activations)
    bound = targets.bind(outputs)
    original = bound.scores(outputs).float()
    count, channels = activations.shape[:2]
    row_images, channel_ids = _rows(count, channels, activations.device)
    rows_per_batch = budget.rows_per_batch(model, [images[:1]], memory_budget_mb)
    scores = torch.empty(len(row_images), device=activations.device)
    replacement: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _module, _args, _output: replacement[0])
    try:
        for start in range(0, len(row_images), rows_per_batch):
            batch_images = row_images[start : start + rows_per_batch]
            ablated = _ablate(activations, batch_images, channel_ids[start : start + rows_per_batch])
            replacement[:] = [view.restore(ablated, raw[batch_images])]
            outputs = model(images[batch_images])
            scores[start : start + len(batch_images)] = bound.scores(outputs, batch_images).float()
    finally:
        handle.remove()
    weights = weights_from_scores(original, scores.view(count, channels))
    return torch.relu(torch.einsum("nk,nkhw->nhw", weights, activations.float()))
