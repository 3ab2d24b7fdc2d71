import numpy as np
import pytest
import torch

from camsweep import inference
from camsweep.data import synthetic
from camsweep.models import classifiers, training


@pytest.fixture(scope="module")
def tiny_splits():
    spec = synthetic.SyntheticSpec(image_size=32, classes=("circle", "square"))
    return synthetic.generate(spec, 32, "train", 0), synthetic.generate(spec, 8, "val", 0)


def test_training_is_deterministic_and_seed_dependent(tiny_splits):
    spec = classifiers.ClassifierSpec("resnet18", 2, stem="compact", last_stride=1)
    settings = training.TrainSettings(epochs=1, batch_size=16, precision="float32")
    runs = [training.train(spec, *tiny_splits, settings, seed=seed, progress=False) for seed in (0, 0, 1)]
    first, again, other = (dict(model.state_dict()) for model, _ in runs)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    history = runs[0][1]
    assert len(history) == 1 and history[0]["precision"] == "float32" and 0 <= history[0]["val_accuracy"] <= 1


def test_stems_and_last_stride_set_the_map_resolution():
    x = torch.zeros(1, 3, 56, 56)
    sizes = {}
    for stem, last_stride in (("standard", 2), ("cifar", 2), ("compact", 1), ("compact", 2)):
        model = classifiers.build(classifiers.ClassifierSpec("resnet18", 4, stem=stem, last_stride=last_stride))
        features = torch.nn.Sequential(*list(model.children())[:-2])  # up to layer4
        sizes[(stem, last_stride)] = features(x).shape[-1]
    assert sizes == {("standard", 2): 2, ("cifar", 2): 7, ("compact", 1): 7, ("compact", 2): 4}
    with pytest.raises(ValueError, match="apply to ResNets only"):
        classifiers.build(classifiers.ClassifierSpec("vgg11", 4, stem="compact"))
    with pytest.raises(ValueError, match="unknown architecture 'resnet19'"):
        classifiers.build(classifiers.ClassifierSpec("resnet19", 4))


def test_width_scales_every_stage_and_keeps_the_module_names():
    full = classifiers.build(classifiers.ClassifierSpec("resnet18", 4, stem="compact", last_stride=1))
    narrow = classifiers.build(classifiers.ClassifierSpec("resnet18", 4, stem="compact", last_stride=1, width=0.25))
    assert [name for name, _ in narrow.named_modules()] == [name for name, _ in full.named_modules()]
    assert [narrow.get_submodule(f"layer{i}")[-1].conv2.out_channels for i in range(1, 5)] == [16, 32, 64, 128]
    assert narrow.conv1.out_channels == 16 and narrow.fc.in_features == 128
    assert narrow.layer2[0].downsample[0].stride == (2, 2) and narrow.layer4[0].conv1.stride == (1, 1)
    features = torch.nn.Sequential(*list(narrow.children())[:-2])
    assert features(torch.zeros(1, 3, 56, 56)).shape == (1, 128, 7, 7) and narrow(torch.zeros(2, 3, 56, 56)).shape == (2, 4)
    # 16 times fewer multiply-adds in every 3×3 convolution: parameters scale by width².
    ratio = sum(p.numel() for p in full.parameters()) / sum(p.numel() for p in narrow.parameters())
    assert 15 < ratio < 16.5
    # torchvision's initialisation: Kaiming-normal (fan_out) convolutions, unit batch norms.
    conv = narrow.layer3[1].conv1.weight
    assert conv.std().item() == pytest.approx((2 / (conv.shape[0] * 9)) ** 0.5, rel=0.1)
    assert torch.equal(narrow.layer3[1].bn1.weight, torch.ones(64))
    with pytest.raises(ValueError, match="apply to ResNets only"):
        classifiers.build(classifiers.ClassifierSpec("vgg11", 4, width=0.5))


def test_checkpoint_round_trip_and_clear_errors(tmp_path, tiny_splits):
    spec = classifiers.ClassifierSpec("resnet18", 2, stem="compact", mean=(0.4, 0.5, 0.6), std=(0.2, 0.2, 0.2))
    model = training.init_model(spec, seed=0).eval()
    classifiers.save_checkpoint(tmp_path / "m.pt", model, spec, {"note": 1})
    loaded, loaded_spec, meta = classifiers.load_checkpoint(tmp_path / "m.pt")
    assert loaded_spec == spec and meta == {"note": 1}
    images = tiny_splits[1].images
    np.testing.assert_array_equal(inference.probabilities(model, spec, images), inference.probabilities(loaded, spec, images))
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        classifiers.load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.pt: not a usable camsweep classifier checkpoint"):
        classifiers.load_checkpoint(tmp_path / "junk.pt")


def test_preprocess_is_the_same_for_every_condition():
    spec = classifiers.ClassifierSpec("resnet18", 2, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    images = np.zeros((1, 2, 2, 3), np.uint8)
    images[0, 0, 0] = 255
    out = classifiers.preprocess(images, spec)
    assert out.shape == (1, 3, 2, 2)
    assert out[0, :, 0, 0].tolist() == [2.0, 2.0, 2.0] and out[0, :, 1, 1].tolist() == [-2.0, -2.0, -2.0]
    with pytest.raises(ValueError, match="expected uint8 images"):
        classifiers.preprocess(images.astype(np.float32), spec)
