"""Classifiers that start from given weights: torchvision's or timm's ImageNet weights, or a user's checkpoint.

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
from camsweep.models.classifiers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TIMM_INSTALL,
    ClassifierSpec,
    import_timm,
    is_timm,
    skeleton,
    timm_name,
)

WEIGHTS = ("imagenet",)
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")  # where wrapped checkpoints keep the weights
# DenseNet files predate the ban on '.' in module names ('norm.1' for 'norm1'); torchvision renames them too.
_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


class WeightsUnavailable(RuntimeError):
    """ImageNet weights are neither in the cache (torch hub's, or Hugging Face's for timm) nor downloadable (e.g. no network)."""


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
    """(state dict, the 1000 class names) of torchvision's DEFAULT ImageNet weights for ``architecture``
    (for ``timm/<name>``: :func:`timm_state_dict`, timm's pretrained weights and their class names).

    The file is read from the torch hub cache (:func:`weights_cache_path`) and downloaded there when
    missing. ``check_hash=True`` as torchvision itself loads them: a download is checked against the hash in
    the file name (torch hub checks only what it downloads, not a file placed by hand). Without network a
    :class:`WeightsUnavailable` says where to put the file.
    """
    if is_timm(architecture):
        return timm_state_dict(architecture)
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


def imagenet_normalisation(architecture: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) the ImageNet weights of ``architecture`` expect: torchvision's ImageNet statistics, or the
    timm weights' own (pretrained_cfg; e.g. 0.5 for the Inception-style Xception)."""
    if is_timm(architecture):
        cfg = timm_pretrained_cfg(architecture)
        return tuple(float(v) for v in cfg["mean"]), tuple(float(v) for v in cfg["std"])
    return IMAGENET_MEAN, IMAGENET_STD


# timm -----------------------------------------------------------------------------------------------
# timm resolves a model's pretrained weights (its pretrained_cfg) to a Hugging Face hub id
# (timm/<name>.<tag>, kept in the Hugging Face cache) or, for a few, to a URL (kept in torch hub's
# checkpoints folder). Both are read offline from those caches, where a file can also be placed by hand.
HF_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm looks for in a hub repository, in its order


def timm_pretrained_cfg(architecture: str) -> dict[str, Any]:
    """timm's pretrained_cfg of ``timm/<name>[.<tag>]`` (the default tag when none is given)."""
    timm = import_timm()
    cfg = timm.models.get_pretrained_cfg(timm_name(architecture))
    if cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file):
        raise ValueError(f"architecture {architecture!r} has no timm pretrained weights (timm.list_pretrained() lists those that do)")
    return cfg.to_dict()


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as huggingface_hub finds it, read now (not at its import): $HF_HUB_CACHE,
    else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


@dataclass(frozen=True)
class TimmWeightsFile:
    kind: str  # hub | url
    source: str  # the hub id (timm/<name>.<tag>) or the URL
    path: Path  # where the file is or, when missing, where it belongs
    present: bool
    download_url: str
    cache: str  # which cache, and how to move it (for the message)


def timm_weights_file(architecture: str) -> TimmWeightsFile:
    """Where timm's pretrained weights of ``architecture`` are (or belong) in the offline caches.

    A hub id ``timm/<name>.<tag>``: the Hugging Face cache's ``models--timm--<name>.<tag>/snapshots/<revision>/``
    with model.safetensors (or pytorch_model.bin), found as huggingface_hub finds it (``refs/main`` names the
    revision folder; without it the folder is ``main``). A URL: torch hub's ``checkpoints/<URL file name>``."""
    cfg = timm_pretrained_cfg(architecture)
    if cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache

        repo, _, revision = cfg["hf_hub_id"].partition("@")
        revision = revision or "main"
        cache = hf_cache_dir()
        names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else list(HF_FILES)
        url = f"https://huggingface.co/{repo}/resolve/{revision}/{names[0]}"
        where = "the Hugging Face cache; set HF_HOME to move it: the cache is then $HF_HOME/hub"
        for name in names:
            found = try_to_load_from_cache(repo, name, cache_dir=cache, revision=revision)
            if isinstance(found, str):
                return TimmWeightsFile("hub", repo, Path(found), True, url, where)
        path = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / revision / names[0]
        return TimmWeightsFile("hub", repo, path, False, url, where)
    if cfg.get("url"):
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(cfg["url"]).path)
        where = "torch hub's cache, torch.hub.get_dir()/checkpoints; set TORCH_HOME to move it: the cache is then $TORCH_HOME/hub/checkpoints"
        return TimmWeightsFile("url", cfg["url"], path, path.exists(), cfg["url"], where)
    raise ValueError(f"architecture {architecture!r}: timm's pretrained_cfg names a local file only ({cfg.get('file')}); give it as a checkpoint")


def _download(found: TimmWeightsFile, architecture: str) -> Path:
    """Fetch a missing weights file into its cache, or raise :class:`WeightsUnavailable` naming where it belongs."""
    try:
        if found.kind == "hub":
            from huggingface_hub import hf_hub_download

            # Read now, not at huggingface_hub's import; it saves the 5 retries (~25 s) of a download that cannot work.
            if os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
                raise ConnectionError("HF_HUB_OFFLINE is set")

            revision = found.path.parent.name
            return Path(hf_hub_download(found.source, found.path.name, revision=revision, cache_dir=hf_cache_dir()))
        found.path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(found.download_url, str(found.path), progress=False)  # writes a temp file, then moves it
        return found.path
    except Exception as error:  # no network: connection errors, timeouts, HTTP errors, offline mode, ...
        raise WeightsUnavailable(
            f"timm's pretrained weights of {architecture!r} ({found.source}) are not cached and cannot be downloaded "
            f"({type(error).__name__}: {error}). Download {found.download_url} by hand and place it at {found.path} "
            f"({found.cache})."
        ) from error


def timm_state_dict(architecture: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(state dict, class names) of timm's pretrained weights of ``architecture``, as timm loads them (its
    checkpoint filter and any custom loader applied), from the offline caches (:func:`timm_weights_file`;
    downloaded there when missing and the network allows). The class names are timm's ImageNet ones (first
    synonym: 'tench'), ``class <i>`` for heads timm cannot name."""
    timm = import_timm()
    cfg = timm_pretrained_cfg(architecture)
    found = timm_weights_file(architecture)
    path = found.path if found.present else _download(found, architecture)
    # The file as timm's own pretrained_cfg "file": timm applies the model's filter (original → timm keys).
    # A hub file is in timm's format; only a URL's file may need the model's custom loader (ViT's .npz).
    custom = bool(cfg.get("custom_load")) and found.kind == "url"
    try:
        model = timm.create_model(
            timm_name(architecture), pretrained=True, num_classes=cfg["num_classes"],
            pretrained_cfg_overlay={"file": str(path), "custom_load": custom},
        )
    except Exception as error:  # a corrupt or foreign file: safetensors, unpickling and key-mismatch errors
        raise ValueError(
            f"{path}: not usable timm weights of {architecture!r} ({type(error).__name__}: {error}); delete it and "
            f"place {found.download_url} there"
        ) from error
    return model.state_dict(), timm_class_names(cfg)


def timm_class_names(cfg: dict[str, Any]) -> list[str]:
    from timm.data import ImageNetInfo, infer_imagenet_subset

    count = int(cfg["num_classes"])
    subset = infer_imagenet_subset(cfg)
    if subset is None:
        return [f"class {i}" for i in range(count)]
    info = ImageNetInfo(subset)
    return [info.index_to_description(i).split(",")[0].strip() for i in range(count)]


def _timm_head(architecture: str) -> str:
    """The (first) classifier module of a timm architecture, as its pretrained_cfg names it."""
    cfg = import_timm().models.get_pretrained_cfg(timm_name(architecture))
    classifier = cfg.classifier if cfg is not None else None
    if not classifier:
        raise ValueError(f"architecture {architecture!r}: timm's pretrained_cfg names no classifier module")
    return classifier if isinstance(classifier, str) else classifier[0]


@functools.lru_cache(maxsize=None)
def head_name(architecture: str) -> str:
    """Module name of the classification head: the last ``nn.Linear`` of the torchvision architecture
    (``fc`` for ResNets, ``classifier.6`` for VGG, ``heads.head`` for ViT, ...); a timm architecture's
    pretrained_cfg ``classifier`` (``fc``, ``head``, ``head.fc``)."""
    if is_timm(architecture):
        return _timm_head(architecture)
    model = skeleton(ClassifierSpec(architecture, 1000))  # meta device where possible: no memory, no init cost
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
    kind: str  # state_dict | wrapped | camsweep | torchscript | safetensors
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
    if str(path).endswith(".safetensors"):  # timm's and Hugging Face's format: tensors only, by design
        try:
            from safetensors.torch import load_file
        except ImportError as error:
            raise ImportError(f"{path}: a .safetensors checkpoint needs the safetensors package (timm's extra installs it: {TIMM_INSTALL})") from error
        try:
            state = load_file(str(path), device="cpu")
        except Exception as error:
            raise ValueError(f"{path}: not a readable safetensors file ({type(error).__name__}: {error})") from error
        return UserCheckpoint(_strip_data_parallel(state), "safetensors")
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
    ``state_dict`` / ``model_state_dict`` / ``model``, a camsweep checkpoint (``{"spec", "state_dict", "meta"}``),
    a TorchScript archive (its ``state_dict()``) or a ``.safetensors`` file; a DataParallel ``module.`` prefix
    is removed."""
    return read_user_checkpoint(path, architecture).state_dict


def _load_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # missing/unexpected keys, shape mismatches
        raise ValueError(f"{source}: the weights do not fit the configured model ({error})") from error


def _new_head(model: nn.Module, architecture: str, num_classes: int, seed: int) -> None:
    """A fresh ``num_classes`` head from ``seed``: a new last Linear, or timm's own reset_classifier (it knows
    its heads: distilled pairs, norms before the head)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeding.int_seed(seed, "train", "head"))
        if is_timm(architecture):
            model.reset_classifier(num_classes)
            return
        name = head_name(architecture)
        old = model.get_submodule(name)
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
    * ``weights="imagenet"``: torchvision's ImageNet weights, loaded strictly, with ImageNet mean/std (a
      ``timm/<name>``: timm's pretrained weights with their pretrained_cfg mean/std). Without ``finetune`` the
      1000-class head stays (the model explains ImageNet classes, named by the weights' categories); with it
      the head (last ``nn.Linear``; timm's ``reset_classifier``) is replaced by a fresh one of the dataset's
      class count, initialised from ``seed``.
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
        mean, std = imagenet_normalisation(spec.architecture)
        used = dataclasses.replace(spec, num_classes=len(categories), mean=mean, std=std)
        model = training.init_model(used, seed)
        _load_strict(model, state, f"ImageNet weights of {spec.architecture!r}")
        if not finetune:
            return InitialClassifier(model, used, tuple(categories), "imagenet", "imagenet")
        _new_head(model, spec.architecture, len(class_names), seed)
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
