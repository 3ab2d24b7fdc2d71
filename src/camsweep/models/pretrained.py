"""Classifiers that start from given weights: torchvision's ImageNet weights or a user's checkpoint.

Whatever the start, the result is an ordinary camsweep classifier (a :class:`ClassifierSpec` and a
``build(spec)`` model), saved with :func:`camsweep.models.classifiers.save_checkpoint`, so every later
stage loads it as before. :func:`initialise_classifier` is the one entry point of the training script.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from camsweep import seeding
from camsweep.models import training
from camsweep.models.classifiers import IMAGENET_MEAN, IMAGENET_STD, ClassifierSpec, build

WEIGHTS = ("imagenet",)
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")  # where wrapped checkpoints keep the weights
# DenseNet files predate the ban on '.' in module names ('norm.1' for 'norm1'); torchvision renames them too.
_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


class WeightsUnavailable(RuntimeError):
    """ImageNet weights are neither in the torch hub cache nor downloadable (e.g. no network)."""


def imagenet_weights(architecture: str) -> Any:
    """torchvision's DEFAULT ImageNet weights enum member for ``architecture`` (e.g. ResNet18_Weights.IMAGENET1K_V1)."""
    import torchvision

    try:
        return torchvision.models.get_model_weights(architecture).DEFAULT
    except (ValueError, KeyError, AttributeError) as error:
        raise ValueError(f"architecture {architecture!r} has no torchvision ImageNet weights ({error})") from error


def weights_cache_path(weights: Any) -> Path:
    """Where torch hub keeps (and looks for) the file of ``weights``: ``torch.hub.get_dir()/checkpoints/<URL file name>``,
    exactly as ``torch.hub.load_state_dict_from_url`` builds it."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def imagenet_state_dict(architecture: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(state dict, the 1000 class names) of torchvision's DEFAULT ImageNet weights for ``architecture``.

    The file is read from the torch hub cache (:func:`weights_cache_path`) and downloaded there when
    missing. ``check_hash=True`` as torchvision itself loads them: a download is checked against the hash in
    the file name (torch hub checks only what it downloads, not a file placed by hand). Without network a
    :class:`WeightsUnavailable` says where to put the file.
    """
    weights = imagenet_weights(architecture)
    cached = weights_cache_path(weights)
    present = cached.exists()
    try:
        state = weights.get_state_dict(progress=False, check_hash=True, map_location="cpu", weights_only=True)
    except Exception as error:
        if not present:  # the download failed: URLError, socket errors and timeouts (OSError), a hash mismatch, ...
            raise WeightsUnavailable(
                f"ImageNet weights {type(weights).__name__}.{weights.name} for architecture {architecture!r} are not "
                f"cached and cannot be downloaded ({type(error).__name__}: {error}). Download {weights.url} by hand and "
                f"place it at {cached} (torch hub's cache, torch.hub.get_dir()/checkpoints; set TORCH_HOME to move "
                "it: the cache is then $TORCH_HOME/hub/checkpoints)."
            ) from error
        # A corrupt or foreign file at the cache path (UnpicklingError, RuntimeError, EOFError, ...).
        raise ValueError(
            f"{cached}: not usable {type(weights).__name__}.{weights.name} weights ({type(error).__name__}: {error}); "
            f"delete it to download {weights.url} again"
        ) from error
    if architecture.startswith("densenet"):
        state = {_DENSENET_KEY.sub(r"\1\2", key): value for key, value in state.items()}
    return state, list(weights.meta["categories"])


@functools.lru_cache(maxsize=None)
def head_name(architecture: str) -> str:
    """Module name of the classification head: the last ``nn.Linear`` of the torchvision architecture
    (``fc`` for ResNets, ``classifier.6`` for VGG, ``heads.head`` for ViT, ...)."""
    spec = ClassifierSpec(architecture, 1000)
    try:
        with torch.device("meta"):  # no memory, no init cost
            model = build(spec)
    except NotImplementedError:  # a few (RegNets) copy data in __init__, which meta tensors cannot
        with torch.random.fork_rng(devices=[]):
            model = build(spec)
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise ValueError(f"architecture {architecture!r} has no nn.Linear classification head (e.g. SqueezeNet's is a Conv2d)")
    return names[-1]


def head_classes(state_dict: dict[str, torch.Tensor], architecture: str) -> int:
    """Number of classes the head of ``state_dict`` (weights of ``architecture``) predicts: out_features of its last Linear."""
    key = f"{head_name(architecture)}.weight"
    if key not in state_dict:
        raise ValueError(f"no {key!r} in the weights: not a state dict of {architecture!r} (keys start {list(state_dict)[:3]})")
    return int(state_dict[key].shape[0])


@dataclass(frozen=True)
class UserCheckpoint:
    state_dict: dict[str, torch.Tensor]
    kind: str  # state_dict | wrapped | camsweep | torchscript
    spec: dict[str, Any] | None = None  # a camsweep checkpoint's ClassifierSpec fields
    meta: dict[str, Any] | None = None  # a camsweep checkpoint's meta


def _is_torchscript(path: str | os.PathLike) -> bool:
    # The test torch.load itself makes: a TorchScript archive is a zip with <folder>/constants.pkl.
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/", 1)[-1] == "constants.pkl" for name in archive.namelist())


def _strip_data_parallel(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if state and all(key.startswith("module.") for key in state):
        return {key.removeprefix("module."): value for key, value in state.items()}
    return state


def _is_state_dict(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())


def read_user_checkpoint(path: str | os.PathLike, architecture: str) -> UserCheckpoint:
    """The weights in a user's file for ``architecture``, with what kind of file it was (see :func:`load_user_checkpoint`)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} (models.<name>.checkpoint) does not exist")
    if _is_torchscript(path):
        # A TorchScript archive holds code as well as tensors; torch.load refuses it with weights_only=True.
        # torch.jit.load reads it with TorchScript's own loader (it compiles the code, runs none of it, and
        # unpickles no arbitrary Python), and only the module's state_dict() is kept.
        try:
            state = dict(torch.jit.load(str(path), map_location="cpu").state_dict())
        except Exception as error:
            raise ValueError(f"{path}: looks like a TorchScript archive but torch.jit.load failed ({type(error).__name__}: {error})") from error
        return UserCheckpoint(_strip_data_parallel(state), "torchscript")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain containers only
    except Exception as error:  # UnpicklingError, EOFError, RuntimeError, ... depending on the damage
        raise ValueError(
            f"{path}: not a readable checkpoint of {architecture!r}: it is no TorchScript archive and "
            f"torch.load(weights_only=True) failed ({type(error).__name__}: {error})"
        ) from error
    if _is_state_dict(payload):
        return UserCheckpoint(_strip_data_parallel(payload), "state_dict")
    if isinstance(payload, dict):
        if {"spec", "state_dict", "meta"} <= payload.keys() and _is_state_dict(payload["state_dict"]):
            return UserCheckpoint(_strip_data_parallel(payload["state_dict"]), "camsweep", dict(payload["spec"]), dict(payload["meta"]))
        for key in STATE_DICT_KEYS:
            if _is_state_dict(payload.get(key)):
                return UserCheckpoint(_strip_data_parallel(payload[key]), "wrapped")
        found = f"a dict with keys {sorted(map(str, payload))[:10]}"
    else:
        found = type(payload).__name__
    raise ValueError(
        f"{path}: no state dict of {architecture!r} found in {found}; expected a state dict, a dict with one under "
        f"{' / '.join(STATE_DICT_KEYS)}, a camsweep checkpoint, or a TorchScript archive"
    )


def load_user_checkpoint(path: str | os.PathLike, architecture: str) -> dict[str, torch.Tensor]:
    """The state dict in a user's file for ``architecture``: a plain state dict, a dict holding one under
    ``state_dict`` / ``model_state_dict`` / ``model``, a camsweep checkpoint (``{"spec", "state_dict", "meta"}``)
    or a TorchScript archive (its ``state_dict()``); a DataParallel ``module.`` prefix is removed."""
    return read_user_checkpoint(path, architecture).state_dict


def _load_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # missing/unexpected keys, shape mismatches
        raise ValueError(f"{source}: the weights do not fit the configured model ({error})") from error


def _new_head(model: nn.Module, name: str, num_classes: int, seed: int) -> None:
    old = model.get_submodule(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeding.int_seed(seed, "train", "head"))
        model.set_submodule(name, nn.Linear(old.in_features, num_classes, bias=old.bias is not None))


@dataclass(frozen=True)
class InitialClassifier:
    model: nn.Module
    spec: ClassifierSpec  # num_classes and mean/std as the model uses them
    class_names: tuple[str, ...]  # what its outputs mean: the dataset's classes, or ImageNet's
    explains: str  # dataset | imagenet (an ImageNet head: its outputs are not the dataset's classes)
    source: str  # random | imagenet | the checkpoint's path


def initialise_classifier(
    spec: ClassifierSpec, class_names: tuple[str, ...] | list[str], weights: str | None, checkpoint: str | None,
    seed: int, finetune: bool,
) -> InitialClassifier:
    """The model a classifier starts from (before training, if any).

    ``spec`` is the configured model for the dataset (``num_classes == len(class_names)``, mean/std of the
    train split); the returned spec is the one of the model as used:

    * neither ``weights`` nor ``checkpoint``: :func:`camsweep.models.training.init_model` (seeded random init).
    * ``weights="imagenet"``: torchvision's ImageNet weights, loaded strictly, with ImageNet mean/std. Without
      ``finetune`` the 1000-class head stays (the model explains ImageNet classes, named by the weights'
      categories); with it the head (last ``nn.Linear``) is replaced by a fresh one of the dataset's class
      count, initialised from ``seed``.
    * ``checkpoint``: a user file (:func:`load_user_checkpoint`) loaded strictly into ``build(spec)``; its head
      must predict the dataset's class count. A camsweep checkpoint brings its own mean/std and must match the
      configured architecture, stem and last_stride (and class names, where it records them); any other file
      keeps ``spec``'s mean/std (the caller chooses them).
    """
    class_names = tuple(str(name) for name in class_names)
    if spec.num_classes != len(class_names):
        raise ValueError(f"spec.num_classes is {spec.num_classes} but {len(class_names)} class names were given")
    if weights is not None and checkpoint is not None:
        raise ValueError(f"weights ({weights!r}) and checkpoint ({checkpoint!r}) exclude each other")
    if weights is not None and weights not in WEIGHTS:
        raise ValueError(f"unknown weights {weights!r}; valid: {', '.join(WEIGHTS)} (or null for random init)")
    if weights is None and checkpoint is None:
        return InitialClassifier(training.init_model(spec, seed), spec, class_names, "dataset", "random")
    if spec.stem != "standard":
        raise ValueError(f"pretrained weights fit the standard stem only, not stem {spec.stem!r}")
    if weights == "imagenet":
        state, categories = imagenet_state_dict(spec.architecture)
        used = dataclasses.replace(spec, num_classes=len(categories), mean=IMAGENET_MEAN, std=IMAGENET_STD)
        model = training.init_model(used, seed)
        _load_strict(model, state, f"ImageNet weights of {spec.architecture!r}")
        if not finetune:
            return InitialClassifier(model, used, tuple(categories), "imagenet", "imagenet")
        _new_head(model, head_name(spec.architecture), len(class_names), seed)
        return InitialClassifier(model, dataclasses.replace(used, num_classes=len(class_names)), class_names, "dataset", "imagenet")
    found = read_user_checkpoint(checkpoint, spec.architecture)
    count = head_classes(found.state_dict, spec.architecture)
    if count != len(class_names):
        raise ValueError(
            f"{checkpoint}: the checkpoint's head predicts {count} classes but the dataset has {len(class_names)} "
            f"{list(class_names)[:10]}; a checkpoint must be trained on the dataset's classes"
        )
    used = spec
    if found.kind == "camsweep":
        for field in ("architecture", "stem", "last_stride", "width"):
            # A checkpoint written before a field existed was made with that field's default.
            if found.spec.get(field, getattr(ClassifierSpec, field, None)) != getattr(spec, field):
                raise ValueError(f"{checkpoint}: a camsweep checkpoint with {field} {found.spec.get(field)!r}, configured {getattr(spec, field)!r}")
        stored_names = found.meta.get("class_names")
        if stored_names is not None and tuple(stored_names) != class_names:
            raise ValueError(f"{checkpoint}: trained on classes {list(stored_names)}, the dataset's are {list(class_names)}")
        used = dataclasses.replace(spec, mean=tuple(found.spec["mean"]), std=tuple(found.spec["std"]))
    model = training.init_model(used, seed)  # every tensor is then overwritten; init_model spares the global RNG
    _load_strict(model, found.state_dict, str(checkpoint))
    return InitialClassifier(model, used, class_names, "dataset", str(checkpoint))
