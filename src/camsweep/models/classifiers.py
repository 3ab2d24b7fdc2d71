"""Classifier construction from torchvision and timm architectures, preprocessing and checkpoints.

An architecture is a torchvision model name (``resnet50``) or ``timm/<name>`` for any timm classifier
(``timm/legacy_xception``, ``timm/pvt_v2_b2_li``; ``timm/<name>.<tag>`` picks a pretrained tag). timm is an
optional extra (``pip install -e ".[timm]"``), imported only when a timm architecture is used (it costs ~2 s).
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from camsweep import io

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STEMS = ("standard", "cifar", "compact")
TIMM_PREFIX = "timm/"
TIMM_INSTALL = 'pip install -e ".[timm]"'


@dataclass(frozen=True)
class ClassifierSpec:
    """What is needed to rebuild a classifier: architecture, classes, stem, input normalisation."""

    architecture: str
    num_classes: int
    stem: str = "standard"  # ResNets: standard | cifar | compact (see build)
    last_stride: int = 2  # ResNets: 1 keeps layer4 at layer3's resolution
    width: float = 1.0  # ResNets: channel multiplier of every stage (0.5: 32 … 256 channels for ResNet-18)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


def is_timm(architecture: str) -> bool:
    return architecture.startswith(TIMM_PREFIX)


def timm_name(architecture: str) -> str:
    """``timm/<name>[.<tag>]`` → ``<name>[.<tag>]``, the name ``timm.create_model`` takes."""
    return architecture.removeprefix(TIMM_PREFIX)


def import_timm() -> Any:
    """The timm module, or an ImportError saying how to install the optional extra."""
    try:
        import timm
    except ImportError as error:
        raise ImportError(f"timm architectures (timm/<name>) need the timm package, an optional extra: {TIMM_INSTALL} ({error})") from error
    return timm


def available_architectures(include_timm: bool = False) -> list[str]:
    """torchvision's classifier names; with ``include_timm`` also ``timm/<name>`` for every timm model (imports timm)."""
    import torchvision

    names = sorted(torchvision.models.list_models(module=torchvision.models))
    if include_timm:
        names += [TIMM_PREFIX + name for name in import_timm().list_models()]
    return names


def unknown_architecture(architecture: str) -> str | None:
    """None for a known architecture, else why it is unknown, to follow its name: ``; valid: [...]; did
    you mean ...?``. A timm architecture without timm installed raises the ImportError of :func:`import_timm`."""
    from camsweep.spelling import did_you_mean

    if is_timm(architecture):
        timm = import_timm()
        name = timm_name(architecture)
        base, _, tag = name.partition(".")
        if not timm.is_model(base):
            # 1,300 names are too many to list: the nearest ones, and where the list is.
            hint = did_you_mean(architecture, [TIMM_PREFIX + found for found in timm.list_models()])
            return f": {base!r} is not a timm model (timm.list_models() lists them){hint}"
        if tag:
            try:
                timm.models.get_pretrained_cfg(name)
            except RuntimeError:
                tags = [found.partition(".")[2] for found in timm.list_pretrained(f"{base}.*")]
                return f": no pretrained tag {tag!r}; valid tags of {base!r}: {tags}{did_you_mean(tag, tags)}"
        return None
    valid = available_architectures()
    if architecture in valid:
        return None
    hint = did_you_mean(architecture, valid)
    try:  # a timm name written without its prefix: point at it (only the error path pays timm's import)
        import timm

        if timm.is_model(architecture.partition(".")[0]):
            hint = f"; did you mean {TIMM_PREFIX + architecture!r} (a timm model)?"
    except ImportError:
        pass
    return f"; valid: {valid} or timm/<name> for any timm classifier{hint}"


def build(spec: ClassifierSpec) -> nn.Module:
    """An untrained torchvision or timm classifier for ``spec``.

    ResNet adaptations for small images (the network is otherwise torchvision's own):

    * ``stem="cifar"``: 3×3 stride-1 conv, no max-pool (the robustness study's small-image style; total stride 8).
    * ``stem="compact"``: 3×3 stride-2 conv, no max-pool (total stride 16, 4× cheaper than ``cifar``).
    * ``last_stride=1``: layer4 does not downsample, so the last block keeps layer3's resolution
      (the "last stride 1" trick for finer CAMs; halves the total stride).
    * ``width``: every stage's channels times ``width`` (torchvision's blocks, module names and
      initialisation); 0.5 costs about a quarter of the compute.

    A timm architecture is ``timm.create_model(name, pretrained=False, num_classes=...)``, unadapted.
    """
    import torchvision

    why = unknown_architecture(spec.architecture)
    if why is not None:
        raise ValueError(f"unknown architecture {spec.architecture!r}{why}")
    if spec.stem not in STEMS:
        raise ValueError(f"unknown stem {spec.stem!r}; valid: {', '.join(STEMS)}")
    if spec.last_stride not in (1, 2):
        raise ValueError(f"last_stride must be 1 or 2, got {spec.last_stride!r}")
    adapted = spec.stem != "standard" or spec.last_stride != 2 or spec.width != 1.0
    if is_timm(spec.architecture):
        if adapted:  # timm's ResNets have other module names and constructors than torchvision's
            raise ValueError(f"stem, last_stride and width adaptations apply to torchvision ResNets only, not {spec.architecture!r}")
        return import_timm().create_model(timm_name(spec.architecture), pretrained=False, num_classes=spec.num_classes)
    model = torchvision.models.get_model(spec.architecture, weights=None, num_classes=spec.num_classes)
    is_resnet = all(hasattr(model, name) for name in ("conv1", "maxpool", "layer4"))
    if adapted and not is_resnet:
        raise ValueError(f"stem, last_stride and width adaptations apply to ResNets only, not {spec.architecture!r}")
    if spec.width != 1.0:
        _scale_resnet_width(model, spec.width, spec.num_classes)
    if spec.stem != "standard":
        stride = 1 if spec.stem == "cifar" else 2
        model.conv1 = nn.Conv2d(3, model.conv1.out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        model.maxpool = nn.Identity()
    if spec.last_stride == 1:
        for module in model.layer4[0].modules():
            if isinstance(module, nn.Conv2d) and module.stride == (2, 2):
                module.stride = (1, 1)
    return model


@functools.lru_cache(maxsize=32)
def skeleton(spec: ClassifierSpec) -> nn.Module:
    """``build(spec)`` for reading its structure (module names, types): on the meta device (no memory, no
    init cost) where the architecture allows it, else on the CPU without touching the global RNG. Cached:
    do not modify or run it."""
    try:
        with torch.device("meta"):
            return build(spec)
    except (NotImplementedError, RuntimeError):  # data copied or read in __init__ (RegNet, timm's drop-path rates)
        with torch.random.fork_rng(devices=[]):
            return build(spec)


def _scale_resnet_width(model: nn.Module, width: float, num_classes: int) -> None:
    """Rebuild a torchvision ResNet's stem, stages and head with ``width`` × its channels, initialised as
    torchvision initialises them (Kaiming-normal convolutions, unit batch norms, PyTorch's default linear)."""
    if not width > 0:
        raise ValueError(f"width must be positive, got {width!r}")
    block = type(model.layer1[0])
    planes = [max(1, round(64 * width * 2**stage)) for stage in range(4)]
    model.inplanes, model.dilation = planes[0], 1
    model.conv1 = nn.Conv2d(3, planes[0], kernel_size=7, stride=2, padding=3, bias=False)
    model.bn1 = model._norm_layer(planes[0])
    for stage, channels in enumerate(planes):
        name = f"layer{stage + 1}"
        setattr(model, name, model._make_layer(block, channels, len(getattr(model, name)), stride=1 if stage == 0 else 2))
    model.fc = nn.Linear(planes[-1] * block.expansion, num_classes)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def preprocess(images: np.ndarray | torch.Tensor, spec: ClassifierSpec) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float32 (N, 3, H, W) scaled to [0, 1] and normalised by ``spec``'s mean/std.

    Clean and perturbed images go through exactly this function (the robustness study's original normalised them
    differently, which inflated its ΔAUC).
    """
    return normalise(unit_range(images), spec)


def unit_range(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float32 (N, 3, H, W) in [0, 1]: the first step of :func:`preprocess` (the
    pixels that faithfulness metrics perturb)."""
    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8 or tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"expected uint8 images (N, H, W, 3), got {tensor.dtype} {tuple(tensor.shape)}")
    return tensor.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)


def normalise(pixels: torch.Tensor, spec: ClassifierSpec) -> torch.Tensor:
    """Float (N, 3, H, W) pixels in [0, 1] → the model's input, normalised by ``spec``'s mean/std: the
    second step of :func:`preprocess`."""
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((pixels - mean) / std).contiguous(memory_format=torch.channels_last)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, spec: ClassifierSpec, meta: dict[str, Any]) -> None:
    payload = {"spec": asdict(spec), "state_dict": model.state_dict(), "meta": meta}
    with io.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, ClassifierSpec, dict[str, Any]]:
    """(model in eval mode on ``device``, its spec, its metadata) from a camsweep checkpoint."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
        spec_fields = dict(payload["spec"])
        spec_fields["mean"] = tuple(spec_fields["mean"])
        spec_fields["std"] = tuple(spec_fields["std"])
        spec = ClassifierSpec(**spec_fields)
        model = build(spec)
        model.load_state_dict(payload["state_dict"])
    except Exception as error:  # torch.load raises many kinds (UnpicklingError, struct.error, ...)
        raise ValueError(f"{path}: not a usable camsweep classifier checkpoint ({type(error).__name__}: {error})") from error
    return model.to(device).eval(), spec, payload.get("meta", {})


def resolve_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested in the config but CUDA is not available on this machine")
    return torch.device(name)
