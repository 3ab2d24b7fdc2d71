"""Class activation maps, torch-native and batched over images.

``compute(model, images, method, layers, targets)`` returns ``{layer: Tensor[N, h, w]}`` at each layer's
own resolution, after the method's final ReLU and *before* any normalisation or upsampling (metrics
normalise; see :mod:`camsweep.maps`). ``images`` are preprocessed model inputs (N, C, H, W);
``targets`` holds one class index per image.

The gradient family (Grad-CAM, Grad-CAM++, XGrad-CAM, Layer-CAM, HiRes-CAM) needs one forward and one
backward pass per batch for all layers and all of these methods at once (:func:`compute_many`).
Hooks are removed and each module's train/eval mode restored on exit, even after an error; the model's
parameters are never modified and their ``.grad`` is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from tqdm import tqdm

from camsweep.cams import gradient, hooks

GRADIENT_METHODS = tuple(gradient.METHODS)
METHODS = GRADIENT_METHODS


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown CAM method {method!r}; valid: {', '.join(METHODS)}")


def as_targets(targets: Sequence[int] | torch.Tensor, count: int) -> torch.Tensor:
    """Class targets as a LongTensor of length ``count``; any other length is an error, never truncated."""
    targets = torch.as_tensor(targets).reshape(-1)
    if len(targets) != count:
        raise ValueError(f"got {len(targets)} targets for {count} images; give exactly one target per image")
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise ValueError(f"class targets must be integers, got {targets.dtype}")
    return targets.long()


def _activations_and_gradients(
    model: nn.Module, batch: torch.Tensor, layers: dict[str, nn.Module], targets: torch.Tensor
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One forward and one backward pass: each layer's activations and ∂(Σ_n logit_n[target_n])/∂A."""
    with torch.inference_mode(False), torch.enable_grad(), hooks.capture(layers) as store:
        inputs = batch.detach().clone().requires_grad_(True)  # builds the graph even for frozen models
        logits = model(inputs)
        if logits.ndim != 2:
            raise ValueError(f"classifier output must be (N, classes), got shape {tuple(logits.shape)}")
        if targets.min() < 0 or targets.max() >= logits.shape[1]:
            raise ValueError(f"target classes must be in [0, {logits.shape[1] - 1}], got {targets.tolist()}")
        missing = [name for name in layers if name not in store]
        if missing:
            raise ValueError(f"layer(s) {missing} were not called in the forward pass")
        for name, activation in store.items():
            if not torch.isfinite(activation).all():
                raise FloatingPointError(f"activations of layer {name!r} contain NaN or inf")
        score = logits.gather(1, targets.to(logits.device).view(-1, 1)).sum()
        names = list(layers)
        grads = torch.autograd.grad(score, [store[name] for name in names], allow_unused=True)
    unused = [name for name, grad in zip(names, grads, strict=True) if grad is None]
    if unused:
        raise ValueError(f"layer(s) {unused} do not influence the model output")
    return {name: store[name].detach() for name in names}, dict(zip(names, grads, strict=True))


def compute_many(
    model: nn.Module,
    images: torch.Tensor,
    methods: Sequence[str],
    layers: Sequence[str],
    targets: Sequence[int] | torch.Tensor,
    batch_size: int = 64,
    progress: bool = False,
) -> dict[str, dict[str, torch.Tensor]]:
    """``{method: {layer: Tensor[N, h, w]}}`` for gradient-family methods, sharing each batch's pass."""
    for method in methods:
        _check_method(method)
    if not methods:
        raise ValueError("no CAM methods requested")
    if images.ndim != 4:
        raise ValueError(f"images must be a (N, C, H, W) tensor, got shape {tuple(images.shape)}")
    targets = as_targets(targets, len(images))
    modules = hooks.resolve_layers(model, layers)
    device = next(model.parameters()).device
    pieces: dict[str, dict[str, list[torch.Tensor]]] = {m: {layer: [] for layer in layers} for m in methods}
    with hooks.eval_mode(model):
        starts = range(0, len(images), batch_size)
        for start in tqdm(starts, desc="CAM batches", disable=not progress, mininterval=5):
            batch = images[start : start + batch_size].to(device)
            activations, grads = _activations_and_gradients(model, batch, modules, targets[start : start + batch_size])
            for method in methods:
                for layer in layers:
                    maps = gradient.METHODS[method](activations[layer].float(), grads[layer].float())
                    pieces[method][layer].append(maps.cpu())
    return {m: {layer: torch.cat(chunks) for layer, chunks in per_layer.items()} for m, per_layer in pieces.items()}


def compute(
    model: nn.Module,
    images: torch.Tensor,
    method: str,
    layers: Sequence[str],
    targets: Sequence[int] | torch.Tensor,
    batch_size: int = 64,
) -> dict[str, torch.Tensor]:
    """``{layer: Tensor[N, h, w]}`` of ``method`` for ``targets`` (one class index per image)."""
    return compute_many(model, images, [method], layers, targets, batch_size)[method]
