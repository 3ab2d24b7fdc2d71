"""Capturing layer outputs with forward hooks that are always removed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from camsweep.cams import layouts


def resolve_layers(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """Map layer names (as in ``model.named_modules()``, e.g. ``layer4`` or ``layer4.1.conv2``) to modules."""
    modules = dict(model.named_modules())
    unknown = [name for name in names if name not in modules or name == ""]
    if unknown:
        valid = [name for name in modules if name]
        raise ValueError(f"unknown layer(s) {unknown} for {type(model).__name__}; valid: {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise ValueError(f"layer names must be distinct, got {list(names)}")
    return {name: modules[name] for name in names}


class Captured(dict):
    """``{layer: activations (N, C, h, w)}`` read through each layer's layout; ``views`` and ``outputs``
    keep each layer's :class:`~camsweep.cams.layouts.View` and raw output (to write ablated values back)."""

    def __init__(self):
        super().__init__()
        self.views: dict[str, layouts.View] = {}
        self.outputs: dict[str, torch.Tensor] = {}


@contextlib.contextmanager
def capture(
    layers: dict[str, nn.Module], resolver: layouts.Resolver, size: tuple[int, int]
) -> Iterator[Captured]:
    """Record each layer's output, as (N, C, h, w) activations, during forward passes inside the block.

    ``resolver`` gives each layer's layout for an input image of ``size`` (H, W); an output that cannot be
    read without guessing raises :class:`~camsweep.cams.layouts.LayoutError`. The hook hands the rest of
    the network a *copy* rebuilt from the recorded activations, so an in-place operation downstream (e.g.
    ``out += identity`` in a ResNet block) cannot alter them, and gradients reach them whatever the layout.
    """
    store = Captured()

    def hook_for(name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {name!r} outputs a {type(output).__name__}, not a tensor: it cannot be explained")
            view = resolver.view(name, output, size)
            activations = view.to_nchw(output)
            store[name], store.views[name], store.outputs[name] = activations, view, output
            restored = view.restore(activations, output)
            # nchw/nhwc give back the output itself (or a view of it): copy; tokens are a new tensor already.
            return restored if view.layout.kind == "tokens" else restored.clone()

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in layers.items()]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` (and its submodules) in eval mode for the block, then restore each one's mode."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes.items():
            module.train(training)


def check_finite(name: str, activations: torch.Tensor) -> None:
    """A NaN or inf in a layer's output would silently poison every map; stop and name the layer."""
    if not torch.isfinite(activations).all():
        raise FloatingPointError(f"activations of layer {name!r} contain NaN or inf")
