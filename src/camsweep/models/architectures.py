"""Default CAM layer per architecture: what ``models.<name>.cam_layers`` is when the config leaves it out.

One rule per family, keyed on the model's class (its module and name, as ``camsweep.cams.layouts`` keys
layer layouts), each naming the module whose output is explained — the last block's output, the layer the
CAM literature and pytorch-grad-cam's documentation use for that family:

========================  ==============================  ===========================================
family                    torchvision                     timm
========================  ==============================  ===========================================
ResNet (ResNeXt, Wide)    ``layer4``                      ``layer4``
VGG                       the last ReLU before the final  (feature_info)
                          max-pool (vgg16: ``features.29``)
DenseNet                  ``features.norm5``              ``features.norm5``
EfficientNet, MobileNet   ``features[-1]``                EfficientNet: ``bn2`` (the head conv's
                                                          activation, torchvision's features[-1])
ConvNeXt                  ``features[-1]``                ``stages[-1]``
Swin                      ``features[-1][-1].norm2``      ``layers[-1].blocks[-1].norm2``
ViT (DeiT)                ``encoder.layers[-1].ln_1``     ``blocks[-1].norm1``
Xception                  —                               legacy_xception: ``act4``;
                                                          xception41/65/71: ``act``
PVT-v2                    —                               ``stages[-1]``
========================  ==============================  ===========================================

Swin's is the last block's second LayerNorm (pytorch-grad-cam's documented choice), not the last stage's
output: that output feeds a LayerNorm, whose scale invariance makes Σ_k ∂y/∂A_k · A_k zero at every position,
so HiResCAM there would be rounding noise (docs/cam-engine.md). ViT's is not the last block's output: with class-token pooling only the class token of the last block
reaches the logits, so its patch tokens have no gradient; the last block's first LayerNorm (whose patch
tokens feed the class token through attention) is pytorch-grad-cam's documented choice. Any other timm
model falls back to its last ``feature_info`` module (timm's own "last feature map"); any other model
raises :class:`NoDefaultLayer`, which asks for ``cam_layers``. Names are those of ``model.named_modules()``
(``encoder.layers.encoder_layer_11.ln_1``, ``stages.3``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn


class NoDefaultLayer(ValueError):
    """No rule of the table covers the model, and it has no timm feature_info to fall back on."""


@dataclass(frozen=True)
class LayerRule:
    family: str
    module: str  # a prefix of ``type(model).__module__``
    classes: tuple[str, ...]  # class names
    layer: Callable[[nn.Module], nn.Module]  # the module explained
    why: str  # for the docs and the provenance's reader


def _vgg_last_relu(model: nn.Module) -> nn.Module:
    """The last ReLU of ``features`` before its final max-pool (vgg16: features.29, before the pool at 30)."""
    layers = list(model.features)
    pools = [i for i, layer in enumerate(layers) if isinstance(layer, nn.MaxPool2d)]
    end = pools[-1] if pools else len(layers)
    relus = [layer for layer in layers[:end] if isinstance(layer, nn.ReLU)]
    if not relus:
        raise NoDefaultLayer("VGG without a ReLU in features")
    return relus[-1]


def _last(container: str) -> Callable[[nn.Module], nn.Module]:
    def pick(model: nn.Module) -> nn.Module:
        return list(model.get_submodule(container).children())[-1]

    return pick


def _named(name: str) -> Callable[[nn.Module], nn.Module]:
    return lambda model: model.get_submodule(name)


RULES = (
    LayerRule("ResNet", "torchvision.models.resnet", ("ResNet",), _named("layer4"), "the last block's output"),
    LayerRule("VGG", "torchvision.models.vgg", ("VGG",), _vgg_last_relu, "the last ReLU before the final max-pool"),
    LayerRule("DenseNet", "torchvision.models.densenet", ("DenseNet",), _last("features"),
              "features[-1] (norm5), pytorch-grad-cam's choice"),
    LayerRule("EfficientNet", "torchvision.models.efficientnet", ("EfficientNet",), _last("features"),
              "features[-1], the last conv block"),
    LayerRule("MobileNet", "torchvision.models.mobilenet", ("MobileNetV2", "MobileNetV3"), _last("features"),
              "features[-1], the last conv block"),
    LayerRule("ConvNeXt", "torchvision.models.convnext", ("ConvNeXt",), _last("features"), "features[-1], the last stage"),
    LayerRule("Swin", "torchvision.models.swin_transformer", ("SwinTransformer",),
              lambda model: list(list(model.features.children())[-1].children())[-1].norm2,
              "the last block's norm2 (channels-last): the stage's output feeds a LayerNorm, which zeroes HiResCAM"),
    LayerRule("ViT", "torchvision.models.vision_transformer", ("VisionTransformer",),
              lambda model: list(model.encoder.layers.children())[-1].ln_1,
              "the last encoder block's ln_1: the last block's patch tokens do not reach a class-token head"),
    LayerRule("ResNet", "timm.models.resnet", ("ResNet",), _named("layer4"), "the last block's output"),
    LayerRule("DenseNet", "timm.models.densenet", ("DenseNet",), _named("features.norm5"), "features.norm5"),
    LayerRule("EfficientNet", "timm.models.efficientnet", ("EfficientNet",), _named("bn2"),
              "bn2, the head conv's normalisation and activation (torchvision's features[-1])"),
    LayerRule("ConvNeXt", "timm.models.convnext", ("ConvNeXt",), _last("stages"), "stages[-1], the last stage"),
    LayerRule("Swin", "timm.models.swin_transformer", ("SwinTransformer",),
              lambda model: list(list(model.layers.children())[-1].blocks.children())[-1].norm2,
              "the last block's norm2 (channels-last): the stage's output feeds a LayerNorm, which zeroes HiResCAM"),
    LayerRule("ViT", "timm.models", ("VisionTransformer", "VisionTransformerDistilled"),
              lambda model: list(model.blocks.children())[-1].norm1,
              "the last block's norm1: the last block's patch tokens do not reach a class-token head"),
    LayerRule("Xception", "timm.models.xception", ("Xception",), _named("act4"),
              "act4, the last activation (Keras Xception's, the box-vs-mask study's layer)"),
    LayerRule("Xception", "timm.models.xception_aligned", ("XceptionAligned",), _named("act"), "act, the last activation"),
    LayerRule("PVT-v2", "timm.models.pvt_v2", ("PyramidVisionTransformerV2",), _last("stages"),
              "stages[-1], the last stage (the attention study's)"),
)


@dataclass(frozen=True)
class DefaultLayer:
    layer: str  # a name of model.named_modules()
    family: str  # the rule's family, or "timm feature_info"
    why: str


def rule_for(model: nn.Module) -> LayerRule | None:
    kind = type(model)
    return next((rule for rule in RULES if kind.__module__.startswith(rule.module) and kind.__name__ in rule.classes), None)


def default_layer(model: nn.Module, architecture: str | None = None) -> DefaultLayer:
    """The layer explained by default for ``model`` (an architecture's name only for the error message)."""
    names = {id(module): name for name, module in model.named_modules() if name}
    rule = rule_for(model)
    if rule is not None:
        module = rule.layer(model)
        if id(module) not in names:  # a rule that picked a module outside the model: the table is wrong
            raise NoDefaultLayer(f"the {rule.family} rule picked a module that is not among {type(model).__name__}'s")
        return DefaultLayer(names[id(module)], rule.family, rule.why)
    info = getattr(model, "feature_info", None)
    if type(model).__module__.startswith("timm.") and info:
        layer = info[-1]["module"]
        if layer in names.values():
            return DefaultLayer(layer, "timm feature_info", "timm's last feature map (feature_info[-1])")
    families = ", ".join(dict.fromkeys(rule.family for rule in RULES))
    raise NoDefaultLayer(
        f"no default CAM layer for {architecture or type(model).__name__!r} ({type(model).__module__}."
        f"{type(model).__name__}): the rules cover {families} and timm models with feature_info; "
        "set cam_layers to the module names (model.named_modules()) to explain"
    )
