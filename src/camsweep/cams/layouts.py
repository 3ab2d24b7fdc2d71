"""How a layer's output holds its channels and its spatial grid, and how to read it as (N, C, h, w).

Every method works on activations A of shape (N, C, h, w). Layers lay them out in one of three ways:

* ``nchw`` — convolutional feature maps (torchvision and timm CNNs, PVT-v2 stage outputs);
* ``nhwc`` — channels last, (N, h, w, C): Swin's stages and blocks (torchvision and timm), the
  LayerNorm inside a ConvNeXt block;
* ``tokens`` — a sequence (N, L, C) of p prefix tokens (class, distillation, register) followed by the
  h·w patch tokens in row-major order: ViT, DeiT, the blocks of a PVT-v2 stage and timm Swin's norm2
  (p = 0).
  Written ``tokens:p`` when p is given, ``tokens`` when it is to be found from the shape.

A layer's layout comes from, first to last: the caller's override (``{layer: "nhwc"}``), the rule table
:data:`RULES` keyed on the class of the model or of the layer's nearest owner, and the output's shape
against the input image's size (which also overrules a rule that does not fit). The grid must be plausible
for the input (between 1 and the image size on each axis,
strides on the two axes within a factor of 1.5; for tokens, the same stride on both axes) — a layout that
does not fit the shape, or a shape that fits none or more than one layout, raises :class:`LayoutError`
naming the layer and the shape. A map is never read from a guessed layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

KINDS = ("nchw", "nhwc", "tokens")
MAX_PREFIX_TOKENS = 16  # class + distillation + register tokens searched when p is not known
_STRIDE_RATIO = 1.5  # the most two axes' strides may differ for a grid to be plausible
# Modules whose 4-D output is channels-first whatever the architecture (a Swin or ConvNeXt stem's conv).
_CHANNELS_FIRST_MODULES = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)


class LayoutError(ValueError):
    """A layer's output cannot be read as a grid of channels without guessing."""


@dataclass(frozen=True)
class Layout:
    kind: str
    prefix_tokens: int | None = None  # tokens only; None: found from the shape

    @classmethod
    def parse(cls, text: str) -> Layout:
        """``nchw``, ``nhwc``, ``tokens`` or ``tokens:<p>``."""
        kind, _, prefix = str(text).partition(":")
        if kind not in KINDS or (prefix and (kind != "tokens" or not prefix.isdigit())):
            raise ValueError(f"unknown layer layout {text!r}; valid: nchw, nhwc, tokens, tokens:<prefix tokens>")
        return cls(kind, int(prefix) if prefix else None)

    def __str__(self) -> str:
        return self.kind if self.prefix_tokens is None else f"{self.kind}:{self.prefix_tokens}"


@dataclass(frozen=True)
class Rule:
    """The layouts of one model class's outputs: ``four_d`` for 4-D outputs, ``tokens`` for 3-D ones."""

    module: str  # where the class is defined (a prefix of ``type(model).__module__``)
    name: str  # the class name
    four_d: str | None = None
    tokens: Layout | None = None


def _tokens(prefix: int | None) -> Layout:
    return Layout("tokens", prefix)


# The architectures whose layouts a shape alone may not settle. ``tokens(None)`` for timm's ViT family:
# the number of prefix tokens is read from the model (``num_prefix_tokens``).
# The first matching rule wins; ``*`` matches any class of the module. timm marks its channels-last
# models (Swin, MambaOut, ...) with ``output_fmt == "NHWC"``, read before the table.
RULES = (
    Rule("torchvision.models.vision_transformer", "VisionTransformer", tokens=_tokens(1)),
    Rule("torchvision.models.swin_transformer", "SwinTransformer", four_d="nhwc"),
    Rule("torchvision.models", "*", four_d="nchw"),
    # timm's Swin blocks are channels-last, but run their MLP's LayerNorm (norm2) on (N, h·w, C) tokens.
    Rule("timm.models.swin_transformer", "SwinTransformer", four_d="nhwc", tokens=_tokens(0)),
    Rule("timm.models.vision_transformer", "VisionTransformer", tokens=_tokens(None)),
    Rule("timm.models.deit", "VisionTransformerDistilled", tokens=_tokens(None)),
    Rule("timm.models.pvt_v2", "PyramidVisionTransformerV2", four_d="nchw", tokens=_tokens(0)),
    Rule("timm.models", "*", four_d="nchw"),
    Rule("camsweep.models", "*", four_d="nchw"),
)


def rule_for(model: nn.Module, layer: str, ndim: int) -> Layout | None:
    """The rule table's layout for the ``ndim``-D output of ``model``'s ``layer`` (None: no rule).

    The layer's owners are searched nearest first (so a wrapped ViT is still a ViT): first for a rule
    naming their class, then for a ``*`` rule of their module.
    """
    modules = dict(model.named_modules())
    if ndim == 4 and isinstance(modules[layer], _CHANNELS_FIRST_MODULES):
        return Layout("nchw")
    parts = layer.split(".")
    owners = [modules[".".join(parts[:depth])] for depth in range(len(parts) - 1, -1, -1)]
    for wildcard in (False, True):
        for owner in owners:
            found = _rule_layout(owner, ndim, wildcard)
            if found is not None:
                return found
    return None


def _rule_layout(owner: nn.Module, ndim: int, wildcard: bool) -> Layout | None:
    if not wildcard and ndim == 4 and getattr(owner, "output_fmt", None) == "NHWC":
        return Layout("nhwc")
    cls = type(owner)
    for rule in RULES:
        if (rule.name == "*") == wildcard and rule.name in ("*", cls.__name__) and cls.__module__.startswith(rule.module):
            if ndim == 4 and rule.four_d:
                return Layout(rule.four_d)
            if ndim == 3 and rule.tokens:
                prefix = rule.tokens.prefix_tokens
                return _tokens(getattr(owner, "num_prefix_tokens", None) if prefix is None else prefix)
    return None


@dataclass(frozen=True)
class View:
    """A layout resolved for one output shape: converts the output to (N, C, h, w) and back."""

    layout: Layout
    height: int
    width: int

    def to_nchw(self, output: torch.Tensor) -> torch.Tensor:
        kind = self.layout.kind
        if kind == "nchw":
            return output
        if kind == "nhwc":
            return output.permute(0, 3, 1, 2)
        patches = output[:, self.layout.prefix_tokens :]
        return patches.unflatten(1, (self.height, self.width)).permute(0, 3, 1, 2)

    def restore(self, nchw: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``nchw`` back in the layer's own layout; ``like`` (the original output, same rows) gives the
        prefix tokens."""
        kind = self.layout.kind
        if kind == "nchw":
            return nchw
        if kind == "nhwc":
            return nchw.permute(0, 2, 3, 1)
        patches = nchw.permute(0, 2, 3, 1).flatten(1, 2)
        return torch.cat([like[:, : self.layout.prefix_tokens], patches], dim=1)


def _plausible(height: int, width: int, size: tuple[int, int], same_stride: bool = False, whole: bool = False) -> bool:
    """The grid fits the image: 1 ≤ h ≤ H, 1 ≤ w ≤ W and strides within 1.5× (``same_stride``: equal;
    ``whole``: equal and a whole number of pixels, as a patch grid has)."""
    image_height, image_width = size
    if not (1 <= height <= image_height and 1 <= width <= image_width):
        return False
    if whole and image_height % height:
        return False
    if same_stride or whole:
        return image_height * width == image_width * height
    strides = (image_height / height, image_width / width)
    return max(strides) / min(strides) <= _STRIDE_RATIO


def _grids(shape: tuple[int, ...], layout: Layout, size: tuple[int, int]) -> list[View]:
    """Every plausible reading of ``shape`` in ``layout`` (for tokens with unknown p, every p)."""
    if layout.kind == "nchw":
        candidates = [(layout, shape[2], shape[3])] if len(shape) == 4 else []
    elif layout.kind == "nhwc":
        candidates = [(layout, shape[1], shape[2])] if len(shape) == 4 else []
    else:
        if len(shape) != 3:
            return []
        prefixes = range(MAX_PREFIX_TOKENS + 1) if layout.prefix_tokens is None else [layout.prefix_tokens]
        candidates = []
        for prefix in prefixes:
            patches = shape[1] - prefix
            for height in range(1, math.isqrt(max(patches, 0)) + 1):
                if patches % height == 0:
                    for h, w in {(height, patches // height), (patches // height, height)}:
                        candidates.append((_tokens(prefix), h, w))
        return [View(lay, h, w) for lay, h, w in candidates if _plausible(h, w, size, whole=True)]
    return [View(lay, h, w) for lay, h, w in candidates if _plausible(h, w, size)]


def resolve(
    name: str, shape: tuple[int, ...], size: tuple[int, int], layout: Layout | None, strict: bool = True
) -> View:
    """The view of layer ``name``'s output ``shape`` for an input image of ``size`` (H, W). ``layout`` is an
    override (``strict``: it must fit) or a rule (not strict: where it does not fit, the shape decides —
    a ConvNeXt block's LayerNorm is channels-last inside a channels-first network); None: the shape alone."""
    shape = tuple(shape)
    where = f"layer {name!r} output of shape {shape} (input {size[0]}×{size[1]})"
    hint = "; set its layout (models.<name>.cam_layouts: {layer: nchw | nhwc | tokens:<prefix tokens>})"
    if len(shape) not in (3, 4):
        raise LayoutError(f"{where}: only 4-D (nchw, nhwc) and 3-D token outputs can be explained")
    views = _grids(shape, layout, size) if layout is not None else []
    if layout is not None and strict and not views:
        raise LayoutError(f"{where} does not fit layout {layout}{hint}")
    if not views:
        kinds = [Layout("nchw"), Layout("nhwc")] if len(shape) == 4 else [Layout("tokens")]
        views = [view for kind in kinds for view in _grids(shape, kind, size)]
        if not views:
            raise LayoutError(f"{where} fits no layout as a grid of the input{hint}")
        exact = [view for view in views if _plausible(view.height, view.width, size, same_stride=True)]
        if len(views) > 1 and len(exact) == 1:
            # (N, 64, 56, 56) of a 224×224 image: stride 4 on both axes as nchw, 3.5 and 4 as nhwc
            views = exact
    if len(views) > 1:
        readings = ", ".join(f"{view.layout} as {view.height}×{view.width}" for view in views)
        raise LayoutError(f"{where} is ambiguous: it reads as {readings}{hint}")
    return views[0]


class Resolver:
    """Resolves (once per layer and shape) the views of a model's layers for a given input size."""

    def __init__(self, model: nn.Module, overrides: Mapping[str, str] | None = None):
        self.model = model
        self.overrides = {layer: Layout.parse(text) for layer, text in (overrides or {}).items()}
        self._views: dict[tuple, View] = {}

    def view(self, name: str, output: torch.Tensor, size: tuple[int, int]) -> View:
        key = (name, tuple(output.shape[1:]), tuple(size))
        if key not in self._views:
            override = self.overrides.get(name)
            layout = override or rule_for(self.model, name, output.ndim)
            self._views[key] = resolve(name, tuple(output.shape), tuple(size), layout, strict=override is not None)
        return self._views[key]
