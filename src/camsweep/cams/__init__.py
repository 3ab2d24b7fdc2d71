"""Class activation maps, torch-native and batched over images.

``compute(model, images, method, layers, targets)`` returns ``{layer: Tensor[N, h, w]}`` at each layer's
own resolution, after the method's final ReLU and *before* any normalisation or upsampling (metrics
normalise; see :mod:`camsweep.maps`). ``images`` are preprocessed model inputs (N, C, H, W) and
``targets`` say what is explained: class indices (or :class:`ClassTargets`) for a classifier,
:class:`RegionTargets` for a segmenter. Methods carry pytorch-grad-cam's names:

* gradient family — ``gradcam``, ``gradcam++``, ``xgradcam``, ``layercam``, ``hirescam``
  (:mod:`~camsweep.cams.gradient`): one forward and one backward pass per batch serves every layer and
  every one of these methods (:func:`compute_many`);
* ``eigencam`` (:mod:`~camsweep.cams.eigen`): from the same forward pass, class-agnostic;
* ``scorecam`` (:mod:`~camsweep.cams.score`): masked re-runs in memory-budgeted batches;
* ``ablationcam`` (:mod:`~camsweep.cams.ablation`): closed form or tail-only re-runs after a
  ``torch.fx`` cut;
* baselines ``random``, ``centre``, ``uniform`` (:mod:`~camsweep.cams.baselines`): maps that know nothing,
  on the layer's grid, from the same forward pass.

Layers may output (N, C, h, w), channels-last (N, h, w, C) or token sequences (N, L, C); each is read as
(N, C, h, w) through its layout (:mod:`~camsweep.cams.layouts`), and a layout that cannot be settled
raises rather than give a wrong map.

Each method is declared once in :mod:`~camsweep.cams.registry` (how to add one is explained there);
:func:`compute_many` dispatches from it.

Every method runs in eval mode; module modes and hooks are restored on exit, even after an error; the
model's parameters, ``requires_grad`` flags and ``.grad`` are never touched.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from camsweep.cams import hooks, layouts, registry
from camsweep.cams.targets import ClassTargets, RegionTargets, Targets, as_targets, select
from camsweep.models import module_device

# The built-in methods (methods registered later still run, but the workflow knows these).
METHODS = registry.names()
# One forward (and, for the gradient family, one backward) pass serves all of these at once.
SHARED_PASS_METHODS = registry.names("shared")
# Each of these re-runs the network: passes (and a workflow job) of its own.
RERUN_METHODS = registry.names("rerun")
GRADIENT_METHODS = tuple(name for name in SHARED_PASS_METHODS if registry.get(name).needs_gradients)
# Maps that know nothing (camsweep.cams.baselines), shown beside the methods in every table.
BASELINES = registry.names(baseline=True)

__all__ = [
    "BASELINES", "METHODS", "GRADIENT_METHODS", "RERUN_METHODS", "SHARED_PASS_METHODS", "CamSettings", "ClassTargets",
    "RegionTargets", "compute", "compute_many", "maps_by_method",
]


@dataclass(frozen=True)
class CamSettings:
    """How the engine batches work and reads layers; none of these change the maps, except ``scorecam_top_k``
    (and ``layouts``, which settles what the rule table and the shapes cannot)."""

    batch_size: int = 64  # images per pass
    memory_budget_mb: float = 512  # for the rows of Score-CAM and Ablation-CAM re-runs
    scorecam_top_k: int | None = None  # not the paper: re-score only the k channels of largest mean
    ablation_strategy: str = "auto"  # auto | tail | full (forcing one is for tests and benchmarks)
    layouts: Mapping[str, str] | None = None  # layer → nchw | nhwc | tokens[:p] (camsweep.cams.layouts)


def _check_methods(methods: Sequence[str]) -> list[registry.Method]:
    if not methods:
        raise ValueError("no CAM methods requested")
    return [registry.get(method) for method in methods]


def _forward_backward(
    model: nn.Module,
    batch: torch.Tensor,
    layers: dict[str, nn.Module],
    targets: Targets | None,
    resolver: layouts.Resolver,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Each layer's activations (N, C, h, w) and, given targets, ∂(Σ_n score_n)/∂A from one forward and one
    backward pass."""
    size = tuple(batch.shape[-2:])
    with torch.inference_mode(False), torch.enable_grad(), hooks.capture(layers, resolver, size) as store:
        inputs = batch.detach().clone().requires_grad_(targets is not None)  # a graph even for frozen models
        outputs = model(inputs)
        missing = [name for name in layers if name not in store]
        if missing:
            raise ValueError(f"layer(s) {missing} were not called in the forward pass")
        for name, activation in store.items():
            hooks.check_finite(name, activation)
        names = list(layers)
        if targets is None:
            return {name: store[name].detach() for name in names}, None
        total = targets.bind(outputs).scores(outputs).sum()
        grads = torch.autograd.grad(total, [store[name] for name in names], allow_unused=True)
    unused = [name for name, grad in zip(names, grads, strict=True) if grad is None]
    if unused:
        raise ValueError(f"layer(s) {unused} do not influence the model output")
    return {name: store[name].detach() for name in names}, dict(zip(names, grads, strict=True))


def _shared_pass(
    model: nn.Module,
    batch: torch.Tensor,
    modules: dict[str, nn.Module],
    methods: Sequence[registry.Method],
    targets: Targets | None,
    resolver: layouts.Resolver,
) -> dict[str, dict[str, torch.Tensor]]:
    needs_gradients = any(method.needs_gradients for method in methods)
    activations, grads = _forward_backward(model, batch, modules, targets if needs_gradients else None, resolver)
    result: dict[str, dict[str, torch.Tensor]] = {}
    for method in methods:
        result[method.name] = {}
        for layer in modules:
            a = activations[layer].float()
            gradients = grads[layer].float() if method.needs_gradients else None
            extra = (batch,) if method.needs_inputs else ()
            result[method.name][layer] = method.implementation(a, gradients, *extra)
    return result


def compute_many(
    model: nn.Module,
    images: torch.Tensor,
    methods: Sequence[str],
    layers: Sequence[str],
    targets: Targets | Sequence[int] | torch.Tensor | None,
    batch_size: int | None = None,
    progress: bool = False,
    settings: CamSettings = CamSettings(),
) -> dict[str, dict[str, torch.Tensor]]:
    """``{method: {layer: Tensor[N, h, w]}}``; methods that can share a pass do. ``targets`` may be None
    only when every method is class-agnostic (``eigencam``)."""
    declared = _check_methods(methods)
    if images.ndim != 4:
        raise ValueError(f"images must be a (N, C, H, W) tensor, got shape {tuple(images.shape)}")
    if targets is None:
        if any(method.needs_targets for method in declared):
            agnostic = [name for name in registry.names() if not registry.get(name).needs_targets]
            raise ValueError(f"targets are required for every method except {', '.join(agnostic)}")
    else:
        targets = as_targets(targets, len(images))
    modules = hooks.resolve_layers(model, layers)
    resolver = layouts.Resolver(model, settings.layouts)
    batch_size = batch_size or settings.batch_size
    device = module_device(model)
    shared = [method for method in declared if method.kind == "shared"]
    # Re-run methods in registry order (not the request's), as the shared pass runs before them.
    reruns = sorted((method for method in declared if method.kind == "rerun"), key=lambda m: registry.names().index(m.name))
    pieces: dict[str, dict[str, list[torch.Tensor]]] = {m: {layer: [] for layer in layers} for m in methods}
    with hooks.eval_mode(model):
        # Prepared once per call, in eval mode (conv-BN fusion needs it): cuts and fused re-run copies.
        runs = {method.name: method.implementation(model, layers, settings) for method in reruns}
        starts = range(0, len(images), batch_size)
        for start in tqdm(starts, desc="CAM batches", disable=not progress, mininterval=5):
            rows = slice(start, start + batch_size)
            batch = images[rows].to(device).contiguous(memory_format=torch.channels_last)
            batch_targets = None if targets is None else select(targets, rows)
            found: dict[str, dict[str, torch.Tensor]] = {}
            if shared:
                found |= _shared_pass(model, batch, modules, shared, batch_targets, resolver)
            for name, run in runs.items():
                found[name] = run(batch, batch_targets)
            for method in methods:
                for layer in layers:
                    pieces[method][layer].append(found[method][layer].detach().cpu())
    return {m: {layer: torch.cat(chunks) for layer, chunks in per_layer.items()} for m, per_layer in pieces.items()}


def compute(
    model: nn.Module,
    images: torch.Tensor,
    method: str,
    layers: Sequence[str],
    targets: Targets | Sequence[int] | torch.Tensor | None,
    batch_size: int | None = None,
    settings: CamSettings = CamSettings(),
) -> dict[str, torch.Tensor]:
    """``{layer: Tensor[N, h, w]}`` of ``method`` for ``targets``."""
    return compute_many(model, images, [method], layers, targets, batch_size, settings=settings)[method]


def maps_by_method(
    model: nn.Module,
    images: torch.Tensor,
    methods: Sequence[str],
    layers: Mapping[str, Sequence[str]],
    targets: Targets | Sequence[int] | torch.Tensor | None,
    settings: CamSettings = CamSettings(),
) -> dict[str, dict[str, np.ndarray]]:
    """``{method: {layer: float32 array (N, h, w)}}``, each method on its own ``layers[method]``; methods on
    the same layers share their passes (one :func:`compute_many` call per distinct layer list)."""
    maps: dict[str, dict[str, torch.Tensor]] = {}
    by_layers = itertools.groupby(sorted(methods, key=lambda m: layers[m]), key=lambda m: layers[m])
    for group_layers, group in by_layers:
        maps |= compute_many(model, images, list(group), group_layers, targets, progress=False, settings=settings)
    return {method: {layer: maps[method][layer].numpy().astype(np.float32) for layer in layers[method]}
            for method in methods}
