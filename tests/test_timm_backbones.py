"""timm backbones beside torchvision's: ``architecture: timm/<name>`` builds any timm classifier with the
dataset's classes, checkpoints round-trip it, and ``weights: imagenet`` reads timm's pretrained weights offline
from timm's own cache layout (Hugging Face hub ids in the Hugging Face cache, URLs in torch hub's checkpoints
folder), or names the exact path where the file belongs. The "pretrained" files here are randomly initialised
models the tests save where the caches expect them; nothing is downloaded."""

import sys
import urllib.error

import pytest
import torch

from camsweep.models import classifiers, pretrained

timm = pytest.importorskip("timm")
safetensors_torch = pytest.importorskip("safetensors.torch")

NAMES = ("a", "b", "c")
# timm 1.0.31's pretrained_cfgs: pvt_v2_b0's default weights are the hub repository timm/pvt_v2_b0.in1k
# (ImageNet mean/std); legacy_xception's are a URL only (Inception mean/std 0.5).
PVT_REPO = "timm/pvt_v2_b0.in1k"
XCEPTION_URL = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/xception-43020ad28.pth"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Caches of our own, and no network: torch hub's downloads fail with URLError, the hub's are switched off."""
    torch.set_num_threads(1)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(torch.hub, "urlopen", refuse)


def random_timm(name, num_classes=1000, seed=5):
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, num_classes=num_classes).eval()


def hub_file(tmp_path, repo=PVT_REPO, revision="main"):
    return tmp_path / "hf_home/hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / revision / "model.safetensors"


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_build_any_timm_classifier_with_the_datasets_classes():
    model = classifiers.build(classifiers.ClassifierSpec("timm/pvt_v2_b0", 3))
    assert type(model).__name__ == "PyramidVisionTransformerV2" and model.head.out_features == 3
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)
    assert "stages.3" in dict(model.named_modules())
    xception = classifiers.build(classifiers.ClassifierSpec("timm/legacy_xception", 5))
    assert xception.fc.out_features == 5 and "act4" in dict(xception.named_modules())


def test_resnet_adaptations_refuse_timm_models():
    for field in ({"stem": "compact"}, {"last_stride": 1}, {"width": 0.5}):
        with pytest.raises(ValueError, match="apply to torchvision ResNets only, not 'timm/resnet18'"):
            classifiers.build(classifiers.ClassifierSpec("timm/resnet18", 3, **field))


def test_unknown_names_suggest_the_nearest():
    with pytest.raises(ValueError, match=r"unknown architecture 'timm/legacy_xceptoin': 'legacy_xceptoin' is not a timm "
                       r"model \(timm.list_models\(\) lists them\); did you mean 'timm/legacy_xception'"):
        classifiers.build(classifiers.ClassifierSpec("timm/legacy_xceptoin", 3))
    # A timm name without its prefix.
    assert classifiers.unknown_architecture("pvt_v2_b2_li").endswith("; did you mean 'timm/pvt_v2_b2_li' (a timm model)?")
    why = classifiers.unknown_architecture("timm/vit_tiny_patch16_224.augreg_in22k")
    assert why == (": no pretrained tag 'augreg_in22k'; valid tags of 'vit_tiny_patch16_224': "
                   "['augreg_in21k', 'augreg_in21k_ft_in1k']; did you mean 'augreg_in21k' or 'augreg_in21k_ft_in1k'?")
    assert classifiers.unknown_architecture("timm/vit_tiny_patch16_224.augreg_in21k") is None


def test_missing_timm_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # `import timm` now raises ImportError
    with pytest.raises(ImportError, match=r'need the timm package, an optional extra: pip install -e "\.\[timm\]"'):
        classifiers.build(classifiers.ClassifierSpec("timm/pvt_v2_b0", 3))
    assert classifiers.unknown_architecture("resnet18") is None  # torchvision needs no timm


def test_checkpoint_round_trips_a_timm_model(tmp_path):
    spec = classifiers.ClassifierSpec("timm/pvt_v2_b0", 3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    model = random_timm("pvt_v2_b0", 3, seed=1)
    classifiers.save_checkpoint(tmp_path / "m.pt", model, spec, {"class_names": list(NAMES)})
    loaded, loaded_spec, meta = classifiers.load_checkpoint(tmp_path / "m.pt")
    assert loaded_spec == spec and meta == {"class_names": list(NAMES)} and not loaded.training
    assert same_state(loaded.state_dict(), model.state_dict())
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


# ImageNet weights from timm's cache layouts -----------------------------------------------------------


def test_hub_weights_missing_name_the_exact_path_and_the_repository(tmp_path):
    with pytest.raises(pretrained.WeightsUnavailable) as caught:
        pretrained.initialise_classifier(classifiers.ClassifierSpec("timm/pvt_v2_b0", 3), NAMES, "imagenet", None, 0, True)
    message = str(caught.value)
    assert f"place it at {hub_file(tmp_path)} " in message
    assert PVT_REPO in message and f"https://huggingface.co/{PVT_REPO}/resolve/main/model.safetensors" in message
    assert "HF_HOME" in message and "'timm/pvt_v2_b0'" in message


def test_hub_weights_load_offline_from_the_huggingface_cache(tmp_path):
    source = random_timm("pvt_v2_b0")
    path = hub_file(tmp_path)
    path.parent.mkdir(parents=True)
    safetensors_torch.save_file(source.state_dict(), str(path))
    spec = classifiers.ClassifierSpec("timm/pvt_v2_b0", 3)
    kept = pretrained.initialise_classifier(spec, NAMES, "imagenet", None, seed=0, finetune=False)
    assert kept.explains == "imagenet" and kept.source == "imagenet"
    assert len(kept.class_names) == 1000 and kept.class_names[0] == "tench" and kept.class_names[-1] == "toilet tissue"
    # pvt_v2's pretrained_cfg mean/std (ImageNet's), not the train split's.
    assert kept.spec == classifiers.ClassifierSpec("timm/pvt_v2_b0", 1000, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    assert same_state(kept.model.state_dict(), source.state_dict())

    tuned = pretrained.initialise_classifier(spec, NAMES, "imagenet", None, seed=0, finetune=True)
    state = tuned.model.state_dict()
    assert tuned.class_names == NAMES and tuned.spec.num_classes == 3 and state["head.weight"].shape == (3, 256)
    assert all(torch.equal(state[k], source.state_dict()[k]) for k in state if not k.startswith("head."))
    again = pretrained.initialise_classifier(spec, NAMES, "imagenet", None, seed=0, finetune=True).model.state_dict()
    assert torch.equal(again["head.weight"], state["head.weight"])  # the new head depends on the seed only


def test_hub_weights_in_a_downloaded_snapshot_are_found(tmp_path):
    """What huggingface_hub itself writes: refs/main names the commit folder of snapshots/."""
    source = random_timm("pvt_v2_b0", seed=7)
    path = hub_file(tmp_path, revision="0123abcd")
    path.parent.mkdir(parents=True)
    safetensors_torch.save_file(source.state_dict(), str(path))
    (path.parents[2] / "refs").mkdir()
    (path.parents[2] / "refs/main").write_text("0123abcd")
    assert pretrained.timm_weights_file("timm/pvt_v2_b0").path == path
    state, _ = pretrained.imagenet_state_dict("timm/pvt_v2_b0")
    assert same_state(state, source.state_dict())


def test_url_weights_load_from_torch_hubs_cache_or_name_the_path(tmp_path):
    path = tmp_path / "torch_home/hub/checkpoints/xception-43020ad28.pth"
    with pytest.raises(pretrained.WeightsUnavailable) as caught:
        pretrained.imagenet_state_dict("timm/legacy_xception")
    message = str(caught.value)
    assert f"Download {XCEPTION_URL} by hand and place it at {path} " in message and "TORCH_HOME" in message
    assert "URLError" in message
    source = random_timm("legacy_xception")
    path.parent.mkdir(parents=True, exist_ok=True)  # the failed download made the folder
    torch.save(source.state_dict(), path)
    start = pretrained.initialise_classifier(classifiers.ClassifierSpec("timm/legacy_xception", 3), NAMES, "imagenet",
                                             None, seed=0, finetune=False)
    assert start.spec.mean == (0.5, 0.5, 0.5) and start.spec.std == (0.5, 0.5, 0.5)  # Inception-style, as timm's cfg says
    assert same_state(start.model.state_dict(), source.state_dict())
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"xception-43020ad28.pth: not usable timm weights of 'timm/legacy_xception'"):
        pretrained.imagenet_state_dict("timm/legacy_xception")


def test_user_checkpoint_of_a_timm_model_including_safetensors(tmp_path):
    source = random_timm("pvt_v2_b0", 3, seed=2)
    safetensors_torch.save_file(source.state_dict(), str(tmp_path / "tuned.safetensors"))
    torch.save({"model": source.state_dict()}, tmp_path / "wrapped.pt")
    spec = classifiers.ClassifierSpec("timm/pvt_v2_b0", 3, mean=(0.3, 0.3, 0.3), std=(0.2, 0.2, 0.2))
    for name in ("tuned.safetensors", "wrapped.pt"):
        start = pretrained.initialise_classifier(spec, NAMES, None, str(tmp_path / name), seed=0, finetune=False)
        assert start.spec == spec and same_state(start.model.state_dict(), source.state_dict())
    with pytest.raises(ValueError, match=r"the checkpoint's head predicts 3 classes but the dataset has 2"):
        pretrained.initialise_classifier(classifiers.ClassifierSpec("timm/pvt_v2_b0", 2), NAMES[:2], None,
                                         str(tmp_path / "tuned.safetensors"), seed=0, finetune=False)
    assert pretrained.head_name("timm/pvt_v2_b0") == "head" and pretrained.head_name("timm/convnext_atto") == "head.fc"
