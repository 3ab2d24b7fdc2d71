"""CAM engine: hand-derived maps on a GAP + linear model, hook hygiene, in-place safety, bad input."""

import re

import pytest
import torch
import torchvision
from torch import nn

from camsweep import cams


class GapLinear(nn.Module):
    """features (1×1 conv + ReLU) → global average pool → linear: CAM (Zhou et al. 2016) is exact here."""

    def __init__(self, channels=6, classes=3):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, channels, 1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


@pytest.fixture()
def gap_model():
    torch.manual_seed(0)
    return GapLinear().eval()


@pytest.fixture()
def images():
    return torch.randn(4, 3, 5, 7, generator=torch.Generator().manual_seed(1))


def hand_terms(model, images, targets):
    """Activations A (N, K, h, w) and the closed-form gradient ∂y_c/∂A_k = w_ck / (h·w) per image."""
    with torch.no_grad():
        activations = model.features(images)
    h, w = activations.shape[2:]
    weights = model.fc.weight[targets]  # (N, K)
    return activations, (weights / (h * w))[:, :, None, None].expand_as(activations), weights


def test_gradcam_equals_cam_up_to_the_pooling_scale(gap_model, images):
    targets = torch.tensor([0, 1, 2, 1])
    activations, _, weights = hand_terms(gap_model, images, targets)
    cam = torch.relu(torch.einsum("nk,nkhw->nhw", weights, activations))  # Zhou et al.'s CAM, ReLU'd
    h, w = activations.shape[2:]
    result = cams.compute(gap_model, images, "gradcam", ["features"], targets)["features"]
    torch.testing.assert_close(result, cam / (h * w), rtol=1e-5, atol=1e-7)
    hires = cams.compute(gap_model, images, "hirescam", ["features"], targets)["features"]
    torch.testing.assert_close(hires, cam / (h * w), rtol=1e-5, atol=1e-7)  # constant gradients: HiRes = Grad-CAM


def test_gradient_family_closed_forms(gap_model, images):
    targets = torch.tensor([2, 0, 1, 0])
    activations, gradient, weights = hand_terms(gap_model, images, targets)
    h, w = activations.shape[2:]
    g = weights / (h * w)  # (N, K), the same at every position
    sums = activations.sum(dim=(2, 3))
    alpha = torch.where(g != 0, g**2 / (2 * g**2 + sums * g**3 + 1e-6), torch.zeros_like(g))
    expected = {
        "gradcam++": torch.relu(torch.einsum("nk,nkhw->nhw", h * w * alpha * torch.relu(g), activations)),
        "xgradcam": torch.relu(torch.einsum("nk,nkhw->nhw", g * sums / (sums + 1e-7), activations)),
        "layercam": torch.relu(torch.einsum("nk,nkhw->nhw", torch.relu(g), activations)),
    }
    result = cams.compute_many(gap_model, images, list(expected), ["features"], targets)
    for method, maps in expected.items():
        torch.testing.assert_close(result[method]["features"], maps, rtol=1e-5, atol=1e-7, msg=method)


def resnet18(stem="standard", last_stride=2):
    from camsweep.models.classifiers import ClassifierSpec, build

    torch.manual_seed(3)
    model = build(ClassifierSpec("resnet18", 5, stem=stem, last_stride=last_stride))
    for module in model.modules():  # random BN statistics so that every layer matters
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def test_captured_activations_are_safe_from_downstream_in_place_ops():
    # In a BasicBlock, bn2's output is modified in place by `out += identity`. Recompute the block by hand
    # and compare the HiRes-CAM (Σ_k G ⊙ A) of bn2 with the engine's.
    model = resnet18()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    targets = torch.tensor([1, 3])
    with torch.no_grad():
        stem = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        block_input = model.layer4[0](model.layer3(model.layer2(model.layer1(stem))))
    block = model.layer4[1]
    bn2 = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(block_input))))).detach().requires_grad_(True)
    logits = model.fc(torch.flatten(model.avgpool(torch.relu(bn2 + block_input)), 1))
    (grad,) = torch.autograd.grad(logits.gather(1, targets[:, None]).sum(), bn2)
    expected = torch.relu((grad * bn2).sum(dim=1)).detach()
    result = cams.compute(model, x, "hirescam", ["layer4.1.bn2"], targets)["layer4.1.bn2"]
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-6)


def test_many_layers_in_one_pass_equal_single_layer_calls():
    model = resnet18(stem="compact", last_stride=1)
    x = torch.randn(3, 3, 56, 56, generator=torch.Generator().manual_seed(4))
    targets = [0, 4, 2]
    layers = ["layer1", "layer2.1.conv2", "layer3", "layer4"]
    together = cams.compute_many(model, x, ["gradcam", "gradcam++"], layers, targets, batch_size=2)
    assert together["gradcam"]["layer4"].shape == (3, 7, 7)
    assert together["gradcam"]["layer1"].shape == (3, 28, 28)
    for layer in layers:
        for method in ("gradcam", "gradcam++"):
            alone = cams.compute(model, x, method, [layer], targets, batch_size=3)[layer]
            torch.testing.assert_close(together[method][layer], alone, rtol=1e-4, atol=1e-6)


def test_model_is_left_exactly_as_it_was():
    model = resnet18()
    model.train()
    model.layer1.requires_grad_(False)  # a partly frozen model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        frozen_input = x.clone()  # an inference-mode tensor must work too
    cams.compute_many(model, frozen_input, ["gradcam", "layercam"], ["layer1", "layer4"], [0, 1])
    assert model.training and all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert [p.requires_grad for p in model.layer1.parameters()] == [False] * len(list(model.layer1.parameters()))
    assert all(p.requires_grad for p in model.layer4.parameters())
    for key, value in model.state_dict().items():  # eval mode inside: BN statistics untouched
        torch.testing.assert_close(value, before[key])


def test_hooks_are_removed_after_an_error(gap_model, images):
    with pytest.raises(ValueError):
        cams.compute(gap_model, images, "gradcam", ["features"], [0, 1, 9, 0])  # class 9 does not exist
    assert all(not m._forward_hooks for m in gap_model.modules())


def test_bad_input_messages(gap_model, images):
    with pytest.raises(ValueError, match="got 3 targets for 4 images"):
        cams.compute(gap_model, images, "gradcam", ["features"], [0, 1, 2])
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['layer9'\].*valid: features, features.0"):
        cams.compute(gap_model, images, "gradcam", ["layer9"], [0, 1, 2, 0])
    with pytest.raises(ValueError, match=re.escape("unknown CAM method 'gradcam+'; valid: gradcam, gradcam++")):
        cams.compute(gap_model, images, "gradcam+", ["features"], [0, 1, 2, 0])
    with torch.no_grad():
        gap_model.features[0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="activations of layer 'features' contain NaN or inf"):
        cams.compute(gap_model, images, "gradcam", ["features"], [0, 1, 2, 0])


def test_frozen_torchvision_model_works():
    model = torchvision.models.resnet18(num_classes=3).eval().requires_grad_(False)
    maps = cams.compute(model, torch.randn(1, 3, 64, 64), "gradcam", ["layer4"], [1])["layer4"]
    assert maps.shape == (1, 2, 2) and torch.isfinite(maps).all() and maps.sum() > 0
    assert all(not p.requires_grad for p in model.parameters())
