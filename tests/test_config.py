"""Configuration errors name the key and the allowed values, before any job runs."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from camsweep import config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = config.load_schema(ROOT / "workflow/schemas/config.schema.yaml")


@pytest.fixture()
def default():
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def problems(cfg):
    with pytest.raises(config.ConfigError) as error:
        config.validate(cfg, SCHEMA)
    return str(error.value)


def test_default_config_is_valid_and_gets_schema_defaults(default):
    del default["cams"]["batch_size"]
    validated = config.validate(default, SCHEMA)
    assert validated["cams"]["batch_size"] == 64
    assert validated["datasets"]["shapes"]["synthetic"]["shortcut"]["test"] == "absent"


def test_unknown_perturbation_lists_valid_names(default):
    default["perturbations"]["fog"] = [1]
    message = problems(default)
    assert "perturbations: unknown key 'fog'; valid: ['gaussian_noise', 'speckle_noise', 'motion_blur'" in message


@pytest.mark.parametrize("severity,words", [(0, "less than the minimum of 1"), (6, "greater than the maximum of 5")])
def test_severity_outside_1_to_5(default, severity, words):
    default["perturbations"]["contrast"] = [1, severity]
    assert f"perturbations.contrast.1: {severity} is {words}" in problems(default)


def test_missing_key_wrong_type_and_typo(default):
    cfg = copy.deepcopy(default)
    del cfg["perturbations"]
    assert "(top level): 'perturbations' is a required property" in problems(cfg)
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"]["train"]["epochs"] = "eight"
    assert "models.resnet18.train.epochs: 'eight' is not of type 'integer'" in problems(cfg)
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"]["train"]["epoch"] = 3
    assert "models.resnet18.train: unknown key(s) ['epoch']; valid keys: ['attention', 'augmentation', 'batch_size', 'epochs'" in problems(cfg)
    cfg = copy.deepcopy(default)
    cfg["cams"]["methods"] = ["gradcam", "gradcampp"]
    assert "cams.methods.1: 'gradcampp' is not allowed; valid: ['gradcam', 'gradcam++'" in problems(cfg)


def test_semantic_checks(default):
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"]["cam_layers"] = ["layer4", "layer5"]
    message = problems(cfg)
    assert "models.resnet18.cam_layers: unknown layer(s) ['layer5']; valid: [" in message and "'layer4.1.conv2'" in message
    cfg = copy.deepcopy(default)
    cfg["figures"]["example_method"] = "layercam"
    assert "figures.example_method: 'layercam' is not in cams.methods" in problems(cfg)
    cfg = copy.deepcopy(default)
    cfg["datasets"]["shapes"]["splits"]["test"] = 3
    assert "datasets.shapes.splits.test: 3 images cannot cover the 4 classes" in problems(cfg)
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"]["architecture"] = "resnet19"
    assert "models.resnet18.architecture: unknown 'resnet19'" in problems(cfg)


def test_timm_architectures_are_checked_and_get_their_default_layer(default, monkeypatch):
    pytest.importorskip("timm")
    cfg = copy.deepcopy(default)
    cfg["models"]["xception"] = {"architecture": "timm/legacy_xceptoin", "randomise_from": "conv4", "weights": "imagenet",
                                 "train": {"epochs": 0}}
    cfg["figures"]["example_layer"] = None
    cfg["cams"] |= {"target": "predicted", "layers": {}}
    message = problems(copy.deepcopy(cfg))
    assert ("models.xception.architecture: unknown 'timm/legacy_xceptoin': 'legacy_xceptoin' is not a timm model "
            "(timm.list_models() lists them); did you mean 'timm/legacy_xception'") in message
    cfg["models"]["xception"]["architecture"] = "legacy_xception"  # without its prefix
    assert "did you mean 'timm/legacy_xception' (a timm model)?" in problems(copy.deepcopy(cfg))
    cfg["models"]["xception"]["architecture"] = "timm/legacy_xception"
    cfg["faithfulness"]["layers"] = ["layer4", "act4"]
    validated = config.validate(copy.deepcopy(cfg), SCHEMA)
    assert validated["models"]["xception"]["cam_layers"] == ["act4"]  # Keras Xception's last activation
    cfg["models"]["xception"]["stem"] = "compact"
    assert ("models.xception: stem, last_stride and width adaptations apply to torchvision ResNets only, not "
            "'timm/legacy_xception'") in problems(copy.deepcopy(cfg))
    del cfg["models"]["xception"]["stem"]
    monkeypatch.setitem(sys.modules, "timm", None)  # timm not installed
    assert 'models.xception.architecture: timm architectures (timm/<name>) need the timm package, an optional extra: ' \
           'pip install -e ".[timm]"' in problems(cfg)


def test_snakemake_stops_before_any_job_with_the_message(tmp_path, default):
    default["perturbations"]["motion_blur"] = [2, 6]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(default))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(tmp_path / "bad.yaml"), "--cores", "1"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "perturbations.motion_blur.1: 6 is greater than the maximum of 5" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_canonical_form_ignores_key_order():
    a = {"b": {"y": 1, "x": [{"q": 1, "p": 2}]}, "a": 0}
    b = {"a": 0, "b": {"x": [{"p": 2, "q": 1}], "y": 1}}
    assert repr(config.canonical(a)) == repr(config.canonical(b))


def test_package_defaults_are_the_pipeline_defaults():
    # A notebook using camsweep directly must get the same dataset and recipe as the default pipeline.
    import dataclasses

    from camsweep.data.synthetic import SyntheticSpec
    from camsweep.models.training import TrainSettings

    dataset = SCHEMA["properties"]["datasets"]["additionalProperties"]["properties"]
    synthetic = {k: v["default"] for k, v in dataset["synthetic"]["properties"].items() if "default" in v}
    spec = SyntheticSpec()
    for key, value in synthetic.items():
        if hasattr(spec, key):
            assert list(np.atleast_1d(getattr(spec, key))) == list(np.atleast_1d(value)), key
    train = SCHEMA["properties"]["models"]["additionalProperties"]["properties"]["train"]["properties"]
    settings = TrainSettings()
    for field in dataclasses.fields(TrainSettings):
        assert getattr(settings, field.name) == train[field.name]["default"], field.name
    from camsweep.cams import CamSettings

    cam_schema = SCHEMA["properties"]["cams"]["properties"]
    for field in dataclasses.fields(CamSettings):
        if field.name in cam_schema:  # ablation_strategy is a test/benchmark switch, not a config key
            assert getattr(CamSettings(), field.name) == cam_schema[field.name]["default"], field.name


def test_segmenter_attention_and_shortcut_checks(default):
    cfg = copy.deepcopy(default)
    cfg["segmenters"]["unet"]["cams"]["target"] = "blob"
    cfg["datasets"]["shapes"]["regions_from"] = "unet2"
    cfg["shortcut"]["attention"]["layer"] = "layer9"
    cfg["shortcut"]["synthetic"] = {"object_radius": [0.3, 0.1]}
    cfg["models"]["resnet18"]["train"]["attention"] = {"layer": "layer4", "region": "lungs", "skip_classes": ["dog"]}
    found = problems(cfg)
    assert "segmenters.unet.cams.target: 'blob' is not an output channel; valid: ['background', 'foreground']" in found
    assert "datasets.shapes.regions_from: 'unet2' is not a segmenter ['unet']" in found
    assert "shortcut.attention.layer: 'layer9' is not a layer of models.resnet18" in found
    assert "shortcut.synthetic: object_radius must satisfy" in found
    assert "models.resnet18.train.attention.region: 'lungs' is neither 'truth' nor a segmenter ['unet']" in found
    assert "models.resnet18.train.attention.skip_classes: ['dog'] are not classes of datasets.shapes" in found


def test_attention_settings_get_defaults_and_name_the_bad_value(default):
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"]["train"]["attention"] = {"layer": "layer4"}
    config.validate(cfg, SCHEMA)
    assert cfg["models"]["resnet18"]["train"]["attention"] == {
        "layer": "layer4", "ce_weight": 0.5, "loss": "mass", "threshold": 0.5, "temperature": 0.05,
        "skip_classes": [], "region": "truth", "region_shape": "mask"}
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"]["train"]["attention"] = {"layer": "layer4", "ce_weight": "adaptiv"}
    assert "models.resnet18.train.attention.ce_weight: 'adaptive' was expected" in problems(cfg)


STUDY_CONFIGS = sorted(p.name for p in (ROOT / "config" / "studies").glob("*.yaml"))


def test_there_is_one_config_per_study_wing():
    wings = sorted(p.stem for p in (ROOT / "workflow/rules/studies").glob("*.smk"))
    assert [name.removesuffix(".yaml") for name in STUDY_CONFIGS] == wings == sorted(SCHEMA["properties"]["studies"]["properties"])


@pytest.mark.parametrize("study", STUDY_CONFIGS)
def test_study_configs_are_valid(study):
    config.validate(yaml.safe_load((ROOT / "config" / "studies" / study).read_text()), SCHEMA)


def test_real_dataset_checks(default):
    cfg = copy.deepcopy(default)
    cfg["datasets"]["derma"] = {"source": "medmnist", "medmnist": {"flag": "dermamnist", "size": 28}}
    message = problems(cfg)
    assert "datasets.derma.root: a medmnist dataset needs the folder" in message
    assert "datasets.derma.medmnist.size: 28 px is below the 32 px the perturbations need" in message
    cfg["datasets"]["pets"] = {"source": "oxford_pet", "root": "raw", "oxford_pet": {"breeds": ["Abyssinian", "Egyptian Mau"]}}
    assert "datasets.pets.oxford_pet.breeds: unknown ['Egyptian Mau']; valid: ['Abyssinian'," in problems(copy.deepcopy(cfg))
    del cfg["datasets"]["pets"]
    cfg["datasets"]["derma"] |= {"root": "raw", "image_size": 32}
    config.validate(copy.deepcopy(cfg), SCHEMA)  # resized to 32 px: fine
    cfg["segmenters"]["unet"]["dataset"] = "derma"
    assert "segmenters.unet.dataset: datasets.derma (medmnist) has no masks to learn" in problems(cfg)
    cfg = copy.deepcopy(default)
    cfg["datasets"]["xray"] = {"source": "folder", "root": "raw", "folder": {"masks": "raw_masks"}}
    cfg["segmenters"]["unet"] |= {"dataset": "xray", "masks": "per_class"}
    assert "segmenters.unet.masks: per_class needs the class list in the config; set datasets.xray.folder.classes" in problems(cfg)
    cfg["datasets"]["xray"]["folder"]["classes"] = ["a", "b"]
    cfg["segmenters"]["unet"]["cams"]["target"] = "b"
    config.validate(cfg, SCHEMA)


def test_initialisation_checks(default):
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"] |= {"weights": "imagenet", "checkpoint": "mine.pt"}
    assert "models.resnet18: weights ('imagenet') and checkpoint ('mine.pt') exclude each other" in problems(cfg)
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"]["train"]["epochs"] = 0
    assert "models.resnet18.train.epochs: 0 trains nothing; give weights: imagenet or a checkpoint" in problems(cfg)
    cfg["models"]["resnet18"] |= {"weights": "imagenet", "stem": "standard", "last_stride": 2}
    cfg["cams"]["target"] = "label"
    assert "cams.target: 'label' is not an ImageNet class; models.resnet18 keeps its ImageNet head" in problems(cfg)
    cfg["cams"]["target"] = "predicted"
    cfg["models"]["resnet18"]["stem"] = "compact"
    assert "models.resnet18.stem: pretrained weights fit the standard stem only" in problems(cfg)
    assert "models.resnet18.width: ImageNet weights fit width 1.0 only, not 0.25" in problems(cfg)
    cfg["models"]["resnet18"] |= {"stem": "standard", "width": 1.0}
    config.validate(cfg, SCHEMA)  # torchvision's ResNet-18 takes its ImageNet weights


def test_per_model_layers_and_s2_method(default):
    cfg = copy.deepcopy(default)
    cfg["models"]["vgg"] = {"architecture": "vgg11", "cam_layers": ["features.18"], "randomise_from": "features.20"}
    cfg["cams"] |= {"methods": ["gradcam"], "layers": {}}
    cfg["faithfulness"]["layers"] = ["layer4", "features.18"]  # each model scores the layers it has
    cfg["figures"]["example_layer"] = None
    config.validate(copy.deepcopy(cfg), SCHEMA)
    cfg["models"]["vgg"]["randomise_from"] = "features.99"
    assert "models.vgg.randomise_from: 'features.99' is not a layer of models.vgg" in problems(copy.deepcopy(cfg))
    cfg["models"]["vgg"]["randomise_from"] = "features.20"
    cfg["faithfulness"]["layers"] = ["layer9"]
    assert "faithfulness.layers: ['layer9'] are in no model's cam_layers" in problems(copy.deepcopy(cfg))
    cfg["faithfulness"]["layers"] = []
    cfg["studies"] = {"perturbation_robustness": {"enabled": True, "method": "layercam"}}
    assert "studies.perturbation_robustness.method: 'layercam' is not in cams.methods" in problems(cfg)


def test_cam_layouts_name_real_layers_and_known_layouts_and_reach_only_their_model(default):
    cfg = copy.deepcopy(default)
    cfg["models"]["resnet18"]["cam_layouts"] = {"layer4": "nhwc", "layer9": "nchw"}
    message = problems(cfg)
    assert "models.resnet18.cam_layouts.layer9: 'layer9' is not a layer of models.resnet18" in message
    cfg["models"]["resnet18"]["cam_layouts"] = {"layer4": "tokens:one"}
    assert "models.resnet18.cam_layouts.layer4: 'tokens:one' does not match" in problems(cfg)
    cfg["models"]["resnet18"]["cam_layouts"] = {"layer4": "tokens:1", "layer3": "nchw"}
    validated = config.validate(cfg, SCHEMA)
    assert config.cam_settings(validated, "resnet18")["layouts"] == {"layer3": "nchw", "layer4": "tokens:1"}
    # Without cam_layouts the settings are the cams section's alone: other jobs' params do not change.
    plain = config.validate(copy.deepcopy(default), SCHEMA)
    assert config.cam_settings(plain, "resnet18") == config.cam_settings(plain) == {
        "batch_size": plain["cams"]["batch_size"], "memory_budget_mb": plain["cams"]["memory_budget_mb"],
        "scorecam_top_k": plain["cams"]["scorecam_top_k"],
    }


def test_baselines_join_the_methods_and_are_validated(default):
    validated = config.validate(copy.deepcopy(default), SCHEMA)
    assert config.cam_methods(validated) == ["gradcam", "gradcam++", "ablationcam", "random", "centre", "uniform"]
    cfg = copy.deepcopy(default)
    cfg["cams"]["methods"] = ["gradcam", "random"]  # a baseline among the methods is not repeated
    cfg["cams"]["layers"] = {"centre": ["layer4"]}  # and a baseline may have its own layers
    assert config.cam_methods(config.validate(cfg, SCHEMA)) == ["gradcam", "random", "centre", "uniform"]
    cfg = copy.deepcopy(default)
    cfg["cams"]["baselines"] = ["random", "gradcam"]
    assert "cams.baselines.1: 'gradcam' is not allowed; valid: ['random', 'centre', 'uniform']" in problems(cfg)
    cfg = copy.deepcopy(default)
    cfg["cams"]["baselines"] = []
    assert config.cam_methods(config.validate(cfg, SCHEMA)) == ["gradcam", "gradcam++", "ablationcam"]
