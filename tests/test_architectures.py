"""Default CAM layers per architecture (camsweep.models.architectures): for every family of the table, the
layer pytorch-grad-cam's documentation and the studies use, present in the model and on the logits' path
(a gradient check); other models get timm's feature_info or a clear request for cam_layers; a config without
cam_layers gets the default, which reaches the rules' params (the tiny study runs check a CAM file's provenance)."""

import copy
from pathlib import Path

import pytest
import torch
import torchvision
import yaml

from camsweep import config
from camsweep.models import architectures, classifiers

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = config.load_schema(ROOT / "workflow/schemas/config.schema.yaml")

# torchvision name → (expected default, input side, extra get_model kwargs). The layers are written out by hand:
# ResNet's last stage; VGG16's last ReLU (features.29) before the final max-pool (features.30); DenseNet's
# features[-1] = norm5; EfficientNet-B0 / MobileNet-V2 / -V3-small / ConvNeXt-T: features[-1], which is
# features.8 / .18 / .12 / .7; Swin-T: the last block's norm2 (stage features.7, block 1); ViT-B/16: the 12th
# (last) encoder block's ln_1.
TORCHVISION = {
    "resnet18": ("layer4", 32, {}),
    "vgg16": ("features.29", 32, {}),
    "densenet121": ("features.norm5", 32, {}),
    "efficientnet_b0": ("features.8", 32, {}),
    "mobilenet_v2": ("features.18", 32, {}),
    "mobilenet_v3_small": ("features.12", 32, {}),
    "convnext_tiny": ("features.7", 32, {}),
    "swin_t": ("features.7.1.norm2", 64, {}),
    "vit_b_16": ("encoder.layers.encoder_layer_11.ln_1", 32, {"image_size": 32}),  # 2×2 patches: same names, cheap
}
# timm name → (expected default, input side). legacy_xception: Keras Xception's last activation (act4);
# XceptionAligned (xception41/65/71): act; PVT-v2-b0 and ConvNeXt-atto: the 4th (last) stage; ViT-Ti: the
# 12th block's norm1; Swin-T: the last block's norm2 (stage 4 of `layers`, block 1); EfficientNet: bn2 (the 1×1 head conv's norm
# and activation); RegNetY (no rule): timm's last feature_info module, s4.
TIMM = {
    "legacy_xception": ("act4", 64),
    "xception41": ("act", 64),
    "pvt_v2_b0": ("stages.3", 32),
    "convnext_atto": ("stages.3", 32),
    "vit_tiny_patch16_224": ("blocks.11.norm1", 224),  # timm's ViT takes its own input size only
    "swin_tiny_patch4_window7_224": ("layers.3.blocks.1.norm2", 224),
    "efficientnet_b0": ("bn2", 32),
    "regnety_002": ("s4", 32),
}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def gradient_at(model, layer, side):
    """d(logit 0)/d(output of ``layer``) for one random image: zero everywhere when the layer is off the logits' path."""
    with torch.no_grad():  # torchvision zero-initialises ViT's head, which would zero every gradient
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and not module.weight.any():
                module.weight.normal_(0, 0.02, generator=torch.Generator().manual_seed(0))
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["output"] = output

    handle = model.get_submodule(layer).register_forward_hook(keep)
    try:
        image = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(0))
        model.eval()(image)[0, 0].backward()
    finally:
        handle.remove()
    return captured["output"].grad


def assert_default_reaches_the_logits(model, architecture, expected, side):
    found = architectures.default_layer(model, architecture)
    assert found.layer == expected
    assert expected in dict(model.named_modules())
    grad = gradient_at(model, expected, side)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_default_layer_is_on_the_logits_path(name):
    expected, side, kwargs = TORCHVISION[name]
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, num_classes=3, **kwargs)
    assert_default_reaches_the_logits(model, name, expected, side)


@pytest.mark.parametrize("name", sorted(TIMM))
def test_timm_default_layer_is_on_the_logits_path(name):
    pytest.importorskip("timm")
    expected, side = TIMM[name]
    torch.manual_seed(0)
    model = classifiers.build(classifiers.ClassifierSpec(f"timm/{name}", 3))
    assert_default_reaches_the_logits(model, f"timm/{name}", expected, side)


def test_families_name_the_rule_used():
    assert architectures.default_layer(torchvision.models.vgg16_bn(weights=None)).layer == "features.42"  # BN: other indices
    assert architectures.default_layer(torchvision.models.vit_b_16(weights=None, image_size=32)).family == "ViT"
    pytest.importorskip("timm")
    regnet = classifiers.skeleton(classifiers.ClassifierSpec("timm/regnety_002", 2))
    assert architectures.default_layer(regnet).family == "timm feature_info"
    xception = classifiers.skeleton(classifiers.ClassifierSpec("timm/legacy_xception", 2))
    assert architectures.default_layer(xception).family == "Xception"


def test_the_last_vit_block_output_would_be_a_dead_layer():
    """Why ViT's default is the last block's norm1: the last block's patch tokens never reach a class-token head."""
    pytest.importorskip("timm")
    torch.manual_seed(0)
    model = classifiers.build(classifiers.ClassifierSpec("timm/vit_tiny_patch16_224", 3))
    last_block = gradient_at(model, "blocks.11", 224)
    assert last_block[:, 1:].abs().sum() == 0 and last_block[:, 0].abs().sum() > 0  # only the class token counts
    norm1 = gradient_at(model, "blocks.11.norm1", 224)
    assert norm1[:, 1:].abs().sum() > 0


def test_no_rule_and_no_feature_info_asks_for_cam_layers():
    with pytest.raises(architectures.NoDefaultLayer, match=r"no default CAM layer for 'googlenet' "
                       r"\(torchvision.models.googlenet.GoogLeNet\): the rules cover ResNet, VGG, .*; set cam_layers"):
        architectures.default_layer(torchvision.models.googlenet(weights=None, init_weights=False, aux_logits=False), "googlenet")


# The config: cam_layers optional -------------------------------------------------------------------


def tiny():
    return yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())


def test_config_without_cam_layers_gets_the_default():
    cfg = tiny()
    name = next(iter(cfg["models"]))
    del cfg["models"][name]["cam_layers"]
    cfg["cams"]["layers"] = {}
    validated = config.validate(cfg, SCHEMA)
    assert validated["models"][name]["cam_layers"] == ["layer4"]
    # What the rules pass on: every method's layers, and the training rule's model options (its provenance).
    assert config.cam_layers(validated, name, "gradcam") == ["layer4"]
    assert config.canonical(validated["models"][name])["cam_layers"] == ["layer4"]
    # Filled once: validating again changes nothing.
    assert config.validate(copy.deepcopy(validated), SCHEMA) == validated


def test_config_default_for_vgg_and_a_clear_error_where_there_is_none():
    cfg = tiny()
    cfg["models"]["v16"] = {"architecture": "vgg16", "randomise_from": "features.28"}
    cfg["cams"]["layers"] = {}
    cfg["figures"] = {"example_layer": None}  # each model's own last layer
    assert config.validate(copy.deepcopy(cfg), SCHEMA)["models"]["v16"]["cam_layers"] == ["features.29"]
    cfg["models"]["v16"] = {"architecture": "googlenet", "randomise_from": "fc"}
    with pytest.raises(config.ConfigError, match=r"models\.v16\.cam_layers: not set, and no default CAM layer for "
                       r"'googlenet' .*set cam_layers"):
        config.validate(cfg, SCHEMA)
