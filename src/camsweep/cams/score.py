"""Score-CAM (Wang et al. 2020), batched over (image, channel) rows.

Each channel A_k of the layer is upsampled to the input size (bilinear, corners aligned, as
pytorch-grad-cam does), min–max normalised to a mask M_k = (U_k − min)/(max − min + 1e-8), and the target is
re-scored on the masked input X ⊙ M_k. Weights are the softmax over channels of those scores, and
map = ReLU(Σ_k w_k A_k). This is the paper's Algorithm 1 with the target's raw score (logit): its baseline
term f(X_b) is the same for every channel and cancels in the softmax.

Speed without changing the maps beyond float rounding: channels whose normalised activations are equal
(every constant channel: mask ≡ 0; after a ReLU, often channels active at one position only) share one
re-run per image, since bilinear upsampling commutes with the min–max normalisation (corners aligned, so
the extremes are kept); masks are built per batch, never all N·K at full resolution at once; the batch
size follows the memory budget; the re-runs use a conv–BN-fused copy (:mod:`camsweep.cams.fusion`) on
channels-last inputs.

``top_k`` (off by default, not the paper): only the k channels with the largest mean activation are
re-scored; the others get weight 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from camsweep.cams import budget, hooks, layouts
from camsweep.cams.targets import Targets

MASK_EPSILON = 1e-8


def normalised(activations: torch.Tensor) -> torch.Tensor:
    """(…, h, w) → each map min–max normalised: (A − min)/(max − min + 1e-8)."""
    flat = activations.float().flatten(-2)
    low = flat.min(dim=-1, keepdim=True).values
    high = flat.max(dim=-1, keepdim=True).values
    return ((flat - low) / (high - low + MASK_EPSILON)).view(activations.shape)


def score_cam(
    model: nn.Module,
    images: torch.Tensor,
    layers: list[str],
    targets: Targets,
    memory_budget_mb: float,
    top_k: int | None = None,
    rerun_model: nn.Module | None = None,
    resolver: layouts.Resolver | None = None,
) -> dict[str, torch.Tensor]:
    """Score-CAM maps {layer: (N, h, w)}; one forward pass captures every layer. ``rerun_model`` (default:
    ``model``) scores the masked inputs, e.g. a fused copy from :func:`camsweep.cams.fusion.inference_copy`;
    ``resolver`` reads the layers' layouts (default: the rule table and the shapes)."""
    modules = hooks.resolve_layers(model, layers)
    rerun_model = model if rerun_model is None else rerun_model
    resolver = resolver or layouts.Resolver(model)
    with torch.inference_mode():
        with hooks.capture(modules, resolver, tuple(images.shape[-2:])) as store:
            outputs = model(images)
        for name in layers:
            hooks.check_finite(name, store[name])
        bound = targets.bind(outputs)
        rows_per_batch = budget.rows_per_batch(rerun_model, [images[:1]], memory_budget_mb)
        return {name: _layer_map(rerun_model, images, store[name], bound, rows_per_batch, top_k) for name in layers}


def _layer_map(model, images, activations, bound, rows_per_batch, top_k) -> torch.Tensor:
    count, channels, height, width = activations.shape
    chosen = torch.ones(count, channels, dtype=torch.bool, device=activations.device)
    if top_k is not None and top_k < channels:
        ranked = activations.mean(dim=(2, 3)).topk(top_k, dim=1).indices
        chosen = torch.zeros_like(chosen).scatter_(1, ranked, True)
    row_images, row_channels = chosen.nonzero(as_tuple=True)
    lowres = normalised(activations[row_images, row_channels])  # (rows, h, w)
    keys = torch.cat([row_images[:, None].float(), lowres.flatten(1)], dim=1)
    unique_keys, inverse = torch.unique(keys, dim=0, return_inverse=True)
    unique_images = unique_keys[:, 0].long()
    unique_masks = unique_keys[:, 1:].view(-1, 1, height, width)
    unique_scores = torch.empty(len(unique_keys), device=activations.device)
    size = tuple(images.shape[2:])
    for start in range(0, len(unique_keys), rows_per_batch):
        batch_images = unique_images[start : start + rows_per_batch]
        masks = F.interpolate(unique_masks[start : start + rows_per_batch], size=size, mode="bilinear", align_corners=True)
        masked = (images[batch_images] * masks).contiguous(memory_format=torch.channels_last)
        unique_scores[start : start + len(batch_images)] = bound.scores(model(masked), batch_images).float()
    scores = torch.full((count, channels), float("-inf"), device=activations.device)
    scores[row_images, row_channels] = unique_scores[inverse]
    weights = torch.softmax(scores, dim=1)  # channels left out by top_k weigh 0
    return torch.relu(torch.einsum("nk,nkhw->nhw", weights, activations.float()))
