"""Pretrained and user-supplied classifiers: ImageNet weights from the torch hub cache (never downloaded
here), user checkpoints in every accepted format, and the training script's epochs-0 / fine-tune paths."""

import json
import logging
import runpy
import urllib.error
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from camsweep import inference, scripting
from camsweep.data import synthetic
from camsweep.data.imageset import load_split, save_split
from camsweep.models import classifiers, pretrained, training

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("circle", "square", "triangle", "cross")
# torchvision 0.29's ResNet18_Weights.IMAGENET1K_V1: the URL's file name is what torch hub caches.
RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, and a torch hub cache of our own: every download attempt fails with URLError."""
    torch.set_num_threads(1)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(torch.hub, "urlopen", refuse)


@pytest.fixture(scope="module")
def imagenet_file_state():
    """What we place in the cache as 'ImageNet weights': a freshly built 1000-class resnet18."""
    return training.init_model(classifiers.ClassifierSpec("resnet18", 1000), seed=5).state_dict()


def cache_file(tmp_path):
    return tmp_path / "torch_home" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"


def place_imagenet_file(tmp_path, state):
    path = cache_file(tmp_path)
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return path


def source_model(num_classes=4, seed=3):
    """A resnet18 with distinctive weights and BatchNorm statistics (so buffers must load too)."""
    model = training.init_model(classifiers.ClassifierSpec("resnet18", num_classes), seed=seed)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    return model.eval()


def fixed_input():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def outputs(model):
    with torch.inference_mode():
        return model.eval()(fixed_input())


def probabilities(model, split):
    return inference.probabilities(model, classifiers.ClassifierSpec("resnet18", 4), split.images)


def start_from(checkpoint, num_classes=4, seed=0, **spec):
    spec = classifiers.ClassifierSpec("resnet18", num_classes, **spec)
    return pretrained.initialise_classifier(spec, NAMES[:num_classes], None, str(checkpoint), seed, finetune=False)


# ImageNet weights ---------------------------------------------------------------------------------


def test_imagenet_weights_offline_name_the_exact_cache_path(tmp_path):
    with pytest.raises(pretrained.WeightsUnavailable) as caught:
        pretrained.imagenet_state_dict("resnet18")
    message = str(caught.value)
    assert str(cache_file(tmp_path)) in message
    assert "'resnet18'" in message and "ResNet18_Weights.IMAGENET1K_V1" in message and RESNET18_URL in message
    assert "TORCH_HOME" in message and "URLError" in message
    assert isinstance(caught.value, RuntimeError)
    assert pretrained.weights_cache_path(pretrained.imagenet_weights("resnet18")) == cache_file(tmp_path)


def test_imagenet_weights_load_from_the_cache_without_network(tmp_path, imagenet_file_state):
    place_imagenet_file(tmp_path, imagenet_file_state)
    state, categories = pretrained.imagenet_state_dict("resnet18")
    assert len(categories) == 1000 and categories[0] == "tench" and categories[-1] == "toilet tissue"
    assert state.keys() == imagenet_file_state.keys()
    assert all(torch.equal(state[k], imagenet_file_state[k]) for k in state)
    cache_file(tmp_path).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="resnet18-f37072fd.pth: not usable ResNet18_Weights.IMAGENET1K_V1 weights"):
        pretrained.imagenet_state_dict("resnet18")


def test_imagenet_head_kept_or_replaced_for_fine_tuning(tmp_path, imagenet_file_state):
    place_imagenet_file(tmp_path, imagenet_file_state)
    spec = classifiers.ClassifierSpec("resnet18", 4, last_stride=1, mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6))
    kept = pretrained.initialise_classifier(spec, NAMES, "imagenet", None, seed=0, finetune=False)
    assert kept.explains == "imagenet" and len(kept.class_names) == 1000 and kept.class_names[1] == "goldfish"
    assert kept.spec == classifiers.ClassifierSpec(
        "resnet18", 1000, last_stride=1, mean=classifiers.IMAGENET_MEAN, std=classifiers.IMAGENET_STD
    )
    assert all(torch.equal(v, imagenet_file_state[k]) for k, v in kept.model.state_dict().items())

    tuned = pretrained.initialise_classifier(spec, NAMES, "imagenet", None, seed=0, finetune=True)
    assert tuned.explains == "dataset" and tuned.class_names == NAMES and tuned.source == "imagenet"
    assert tuned.spec.num_classes == 4 and tuned.spec.mean == classifiers.IMAGENET_MEAN
    state = tuned.model.state_dict()
    assert state["fc.weight"].shape == (4, 512) and state["fc.bias"].shape == (4,)
    assert state.keys() == imagenet_file_state.keys()
    assert all(torch.equal(state[k], imagenet_file_state[k]) for k in state if not k.startswith("fc."))
    assert outputs(tuned.model).shape == (2, 4)
    # The new head depends on the seed only.
    same = pretrained.initialise_classifier(spec, NAMES, "imagenet", None, seed=0, finetune=True).model.state_dict()
    other = pretrained.initialise_classifier(spec, NAMES, "imagenet", None, seed=1, finetune=True).model.state_dict()
    assert torch.equal(same["fc.weight"], state["fc.weight"]) and not torch.equal(other["fc.weight"], state["fc.weight"])
    # A fine-tuned model saves and loads as any camsweep classifier.
    classifiers.save_checkpoint(tmp_path / "tuned.pt", tuned.model, tuned.spec, {"class_names": list(NAMES)})
    loaded, loaded_spec, meta = classifiers.load_checkpoint(tmp_path / "tuned.pt")
    assert loaded_spec == tuned.spec and meta["class_names"] == list(NAMES)
    assert torch.equal(outputs(loaded), outputs(tuned.model))
    with pytest.raises(ValueError, match="standard stem only, not stem 'compact'"):
        pretrained.initialise_classifier(classifiers.ClassifierSpec("resnet18", 4, stem="compact"), NAMES, "imagenet", None, 0, True)


def test_random_start_is_init_model():
    spec = classifiers.ClassifierSpec("resnet18", 4, stem="compact")
    start = pretrained.initialise_classifier(spec, NAMES, None, None, seed=2, finetune=True)
    reference = training.init_model(spec, seed=2).state_dict()
    assert start.source == "random" and start.spec == spec and start.explains == "dataset"
    assert all(torch.equal(v, reference[k]) for k, v in start.model.state_dict().items())
    with pytest.raises(ValueError, match="exclude each other"):
        pretrained.initialise_classifier(spec, NAMES, "imagenet", "x.pt", 0, True)
    with pytest.raises(ValueError, match="unknown weights 'places365'"):
        pretrained.initialise_classifier(spec, NAMES, "places365", None, 0, True)


# User checkpoints ---------------------------------------------------------------------------------


def test_every_checkpoint_format_reproduces_the_source_model(tmp_path):
    source = source_model()
    expected = outputs(source)
    state = source.state_dict()
    torch.save(state, tmp_path / "plain.pt")
    torch.save({"state_dict": state, "epoch": 7}, tmp_path / "wrapped.pth")
    optimiser = torch.optim.SGD(source.parameters(), lr=0.1)
    torch.save({"model_state_dict": state, "optimizer_state_dict": optimiser.state_dict()}, tmp_path / "with_optimiser.pt")
    torch.save(torch.nn.DataParallel(source).state_dict(), tmp_path / "data_parallel.pt")
    torch.jit.save(torch.jit.trace(source, fixed_input()[:1]), tmp_path / "traced.pt")
    kinds = {}
    for name in ("plain.pt", "wrapped.pth", "with_optimiser.pt", "data_parallel.pt", "traced.pt"):
        kinds[name] = pretrained.read_user_checkpoint(tmp_path / name, "resnet18").kind
        start = start_from(tmp_path / name)
        assert start.spec == classifiers.ClassifierSpec("resnet18", 4)  # the caller's mean/std are kept
        assert start.class_names == NAMES and start.explains == "dataset"
        assert torch.equal(outputs(start.model), expected), name
    assert kinds == {"plain.pt": "state_dict", "wrapped.pth": "wrapped", "with_optimiser.pt": "wrapped",
                     "data_parallel.pt": "state_dict", "traced.pt": "torchscript"}
    assert next(iter(torch.load(tmp_path / "data_parallel.pt", weights_only=True))).startswith("module.")
    assert not any(k.startswith("module.") for k in pretrained.load_user_checkpoint(tmp_path / "data_parallel.pt", "resnet18"))


def test_torchscript_scripted_model(tmp_path):
    source = source_model()
    torch.jit.save(torch.jit.script(source), tmp_path / "scripted.pt")
    assert torch.equal(outputs(start_from(tmp_path / "scripted.pt").model), outputs(source))


def test_camsweep_checkpoint_brings_its_normalisation_and_is_checked(tmp_path):
    source = source_model()
    spec = classifiers.ClassifierSpec("resnet18", 4, mean=(0.3, 0.3, 0.3), std=(0.2, 0.2, 0.2))
    classifiers.save_checkpoint(tmp_path / "camsweep.pt", source, spec, {"class_names": list(NAMES)})
    start = start_from(tmp_path / "camsweep.pt")
    assert start.spec == spec and torch.equal(outputs(start.model), outputs(source))
    with pytest.raises(ValueError, match="camsweep.pt: a camsweep checkpoint with last_stride 2, configured 1"):
        start_from(tmp_path / "camsweep.pt", last_stride=1)
    classifiers.save_checkpoint(tmp_path / "other_classes.pt", source, spec, {"class_names": ["a", "b", "c", "d"]})
    with pytest.raises(ValueError, match=r"trained on classes \['a', 'b', 'c', 'd'\]"):
        start_from(tmp_path / "other_classes.pt")


def test_class_count_mismatch_missing_and_unreadable_files(tmp_path):
    torch.save(source_model(num_classes=3).state_dict(), tmp_path / "three.pt")
    with pytest.raises(ValueError, match="three.pt: the checkpoint's head predicts 3 classes but the dataset has 4"):
        start_from(tmp_path / "three.pt")
    assert pretrained.head_classes(pretrained.load_user_checkpoint(tmp_path / "three.pt", "resnet18"), "resnet18") == 3
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        start_from(tmp_path / "nowhere.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"junk.pt: not a readable checkpoint of 'resnet18'.*TorchScript.*weights_only=True"):
        start_from(tmp_path / "junk.pt")
    torch.save({"epoch": 3, "notes": "no weights"}, tmp_path / "empty.pt")
    with pytest.raises(ValueError, match=r"empty.pt: no state dict of 'resnet18' found in a dict with keys \['epoch', 'notes'\]"):
        start_from(tmp_path / "empty.pt")
    torch.save(training.init_model(classifiers.ClassifierSpec("resnet34", 4), 0).state_dict(), tmp_path / "resnet34.pt")
    with pytest.raises(ValueError, match="resnet34.pt: the weights do not fit the configured model"):
        start_from(tmp_path / "resnet34.pt")


def test_head_name_is_the_last_linear():
    heads = {a: pretrained.head_name(a) for a in ("resnet18", "vgg11", "vit_b_16", "mobilenet_v3_small", "regnet_x_400mf")}
    assert heads == {"resnet18": "fc", "vgg11": "classifier.6", "vit_b_16": "heads.head",
                     "mobilenet_v3_small": "classifier.3", "regnet_x_400mf": "fc"}  # regnet: built for real, not on meta
    with pytest.raises(ValueError, match="no nn.Linear classification head"):
        pretrained.head_name("squeezenet1_0")


# Training from a given start ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_splits():
    spec = synthetic.SyntheticSpec(image_size=32, classes=NAMES)
    return synthetic.generate(spec, 16, "train", 0), synthetic.generate(spec, 8, "val", 0), synthetic.generate(spec, 8, "test", 0)


def test_train_from_an_initial_model(tiny_splits):
    spec = classifiers.ClassifierSpec("resnet18", 4, stem="compact")
    settings = training.TrainSettings(epochs=1, batch_size=8, precision="float32")
    default, history = training.train(spec, *tiny_splits[:2], settings, seed=0, progress=False)
    given = training.init_model(spec, seed=0)
    before = {k: v.clone() for k, v in given.state_dict().items()}
    same, _ = training.train(spec, *tiny_splits[:2], settings, seed=0, progress=False, initial_model=given)
    assert all(torch.equal(v, default.state_dict()[k]) for k, v in same.state_dict().items())
    assert all(torch.equal(v, before[k]) for k, v in given.state_dict().items())  # the start is not modified
    other, _ = training.train(spec, *tiny_splits[:2], settings, seed=0, progress=False, initial_model=training.init_model(spec, 1))
    assert not torch.equal(other.state_dict()["fc.weight"], default.state_dict()["fc.weight"])
    assert tuple(history[0]) == training.HISTORY_COLUMNS


# The training script ------------------------------------------------------------------------------


def run_script(tmp_path, splits, model, name):
    """Run the real workflow script in this process (so the offline fixture holds), as run by hand."""
    for split_name, split in zip(("train", "val", "test"), splits, strict=True):
        save_split(tmp_path / f"{split_name}.npz", split)
    out = tmp_path / name
    job = scripting.from_argv([
        "--input", *(f"{s}={tmp_path / s}.npz" for s in ("train", "val", "test")),
        "--output", f"model={out}.pt", f"history={out}.history.csv", f"metrics={out}.metrics.json",
        "--params", "model=" + yaml.safe_dump(model, default_flow_style=True, width=10_000).strip(), "seed=0", "device=cpu",
        "--log", f"{out}.log",
    ])
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        runpy.run_path(str(ROOT / "workflow" / "scripts" / "train_classifier.py"), init_globals={"snakemake": job})
    finally:  # the script's logging.basicConfig(force=True) replaced pytest's handlers
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    log = Path(f"{out}.log").read_text()
    return json.loads(Path(f"{out}.metrics.json").read_text()), pd.read_csv(f"{out}.history.csv"), log


def model_options(**changes):
    train = {"epochs": 0, "batch_size": 8, "optimiser": "adamw", "learning_rate": 0.003, "weight_decay": 0.0005,
             "momentum": 0.9, "label_smoothing": 0.0, "flips": True, "precision": "float32", "attention": None,
             "augmentation": None, **changes.pop("train", {})}
    return {"architecture": "resnet18", "weights": None, "checkpoint": None, "stem": "standard", "last_stride": 2, "width": 1.0,
            "cam_layers": ["layer4"], "train": train, **changes}


def test_script_epochs_0_with_a_checkpoint_and_with_the_imagenet_head(tmp_path, tiny_splits, imagenet_file_state):
    torch.save(source_model().state_dict(), tmp_path / "given.pt")
    metrics, history, _ = run_script(tmp_path, tiny_splits, model_options(checkpoint=str(tmp_path / "given.pt")), "user")
    assert history.empty and tuple(history.columns) == training.HISTORY_COLUMNS[:-1]
    assert metrics["explains"] == "dataset" and metrics["class_names"] == list(NAMES) and metrics["precision"] is None
    assert metrics["train_seconds"] == 0 and metrics["initialisation"] == str(tmp_path / "given.pt")
    assert metrics["test_accuracy"] == pytest.approx(np.mean(probabilities(source_model(), tiny_splits[2]).argmax(1) == tiny_splits[2].labels))
    model, spec, meta = classifiers.load_checkpoint(tmp_path / "user.pt")
    assert spec.mean == classifiers.IMAGENET_MEAN and meta["class_names"] == list(NAMES)
    assert torch.equal(outputs(model), outputs(source_model()))

    place_imagenet_file(tmp_path, imagenet_file_state)
    metrics, history, _ = run_script(tmp_path, tiny_splits, model_options(weights="imagenet"), "imagenet")
    assert history.empty and metrics["explains"] == "imagenet" and len(metrics["class_names"]) == 1000
    assert not any(key.startswith("test_") for key in metrics)
    model, spec, meta = classifiers.load_checkpoint(tmp_path / "imagenet.pt")
    assert spec.num_classes == 1000 and meta["class_names"][0] == "tench"


def test_script_fine_tunes_imagenet_weights_with_augmentation(tmp_path, tiny_splits, imagenet_file_state):
    place_imagenet_file(tmp_path, imagenet_file_state)
    options = model_options(weights="imagenet", train={
        "epochs": 1, "augmentation": {"perturbations": ["contrast", "brightness"], "severities": [2]}})
    metrics, history, log = run_script(tmp_path, tiny_splits, options, "tuned")
    assert len(history) == 1 and metrics["augmented_images"] == 32 and "32 perturbed copies added to 16" in log
    assert metrics["explains"] == "dataset" and metrics["initialisation"] == "imagenet" and metrics["precision"] == "float32"
    model, spec, _ = classifiers.load_checkpoint(tmp_path / "tuned.pt")
    assert spec.num_classes == 4 and spec.mean == classifiers.IMAGENET_MEAN
    assert len(load_split(tmp_path / "train.npz")) == 16  # the split on disk is not changed
