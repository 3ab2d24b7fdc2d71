"""Capturing layer outputs with forward hooks that are always removed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn


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


@contextlib.contextmanager
def capture(layers: dict[str, nn.Module]) -> Iterator[dict[str, torch.Tensor]]:
    """Record each layer's output during forward passes inside the block.

    The hook hands a *clone* to the rest of the network, so an in-place operation downstream (e.g.
    ``out += identity`` in a ResNet block) cannot alter the captured tensor; gradients still flow to it
    through the clone.
    """
    store: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
            if not isinstance(output, torch.Tensor) or output.ndim != 4:
                raise TypeError(f"layer {name!r} must output a 4-D tensor (N, C, h, w) to be explained")
            store[name] = output
            return output.clone()

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
