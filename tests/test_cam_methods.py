"""Score-CAM, Ablation-CAM and Eigen-CAM: closed forms, independent re-implementations, the U-Net region
target, tail-only re-runs, and model hygiene."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from camsweep import cams
from camsweep.cams import ablation, eigen, split
from camsweep.models.segmenters import UNet


class GapLinear(nn.Module):
    """features (3×3 conv + ReLU) → global average pool → linear."""

    def __init__(self, channels=5, classes=3):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Untraceable(GapLinear):
    """The same network, but with Python control flow on a tensor value, which torch.fx cannot trace."""

    def forward(self, x):
        features = self.features(x)
        if features.sum() < 0:  # never true after a ReLU: the output equals GapLinear's
            features = -features
        return self.fc(torch.flatten(self.pool(features), 1))


class SizedReshape(GapLinear):
    """Reads the batch size before the layer and uses it after: the tail cannot take other batch sizes."""

    def forward(self, x):
        count = x.size(0)
        return self.fc(self.pool(self.features(x)).reshape(count, -1))


@pytest.fixture()
def gap_model():
    torch.manual_seed(0)
    return GapLinear().eval()


@pytest.fixture()
def images():
    return torch.randn(4, 3, 6, 6, generator=torch.Generator().manual_seed(1))


def positive_targets(model, images):
    with torch.no_grad():
        logits = model(images)
    targets = logits.argmax(dim=1)
    assert (logits.max(dim=1).values > 0).all()
    return targets, logits.max(dim=1).values


def test_ablation_weights_equal_the_closed_form_on_every_strategy(gap_model, images):
    # y_c = Σ_k W_ck mean(A_k) + b_c; zeroing A_k removes W_ck mean(A_k): w_k = W_ck mean(A_k) / y_c.
    with torch.no_grad():
        gap_model.fc.bias += 1.0  # positive target scores: the paper's y_c, not the |y| guard
    targets, y = positive_targets(gap_model, images)
    with torch.no_grad():
        activations = gap_model.features(images)
    weights = gap_model.fc.weight[targets] * activations.mean(dim=(2, 3)) / y[:, None]
    expected = torch.relu(torch.einsum("nk,nkhw->nhw", weights, activations)).detach()
    for strategy in ("auto", "tail", "full"):
        settings = cams.CamSettings(ablation_strategy=strategy, memory_budget_mb=0.001)  # one row per batch
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no fallback warning for a traceable model
            maps = cams.compute(gap_model, images, "ablationcam", ["features"], targets, settings=settings)
        torch.testing.assert_close(maps["features"], expected, rtol=1e-4, atol=1e-6, msg=strategy)


@pytest.mark.parametrize(
    ("variant", "warning"),
    [
        (Untraceable, "re-runs the whole model.*cannot trace Untraceable"),
        (SizedReshape, "a value crossing the cut at 'features' is not a per-image tensor"),
    ],
)
def test_ablation_falls_back_to_full_reruns_with_a_warning(gap_model, images, variant, warning):
    model = variant()
    model.load_state_dict(gap_model.state_dict())
    model.eval()
    targets = torch.tensor([0, 1, 2, 0])
    with pytest.warns(UserWarning, match=warning):
        maps = cams.compute(model, images, "ablationcam", ["features"], targets)
    expected = cams.compute(gap_model, images, "ablationcam", ["features"], targets)
    torch.testing.assert_close(maps["features"], expected["features"], rtol=1e-4, atol=1e-6)


def test_forcing_tail_reruns_on_an_untraceable_model_raises(gap_model, images):
    with pytest.raises(split.SplitError, match="cannot trace"):
        cams.compute(Untraceable().eval(), images, "ablationcam", ["features"], [0, 1, 2, 0],
                     settings=cams.CamSettings(ablation_strategy="tail"))


def test_ablation_divides_by_the_magnitude_of_a_negative_score():
    # (y − y_k)/|y|: for y < 0 a channel whose removal lowers the score keeps a positive weight.
    original = torch.tensor([-2.0, 4.0, 0.0])
    ablated = torch.tensor([[-3.0, -1.0], [3.0, 5.0], [-1.0, 1.0]])
    expected = torch.tensor([[0.5, -0.5], [0.25, -0.25], [1e7, -1e7]])
    torch.testing.assert_close(ablation.weights_from_scores(original, ablated), expected)


def naive_score_cam(model, images, layer_module, targets):
    """Straight from the paper's Algorithm 1, one channel and one image at a time."""
    store = {}
    handle = layer_module.register_forward_hook(lambda _m, _a, out: store.__setitem__("a", out.detach().clone()))
    with torch.no_grad():
        model(images)
    handle.remove()
    activations = store["a"]
    maps = []
    for n in range(len(images)):
        scores = []
        for k in range(activations.shape[1]):
            upsampled = F.interpolate(activations[n : n + 1, k : k + 1], size=images.shape[2:], mode="bilinear", align_corners=True)
            mask = (upsampled - upsampled.min()) / (upsampled.max() - upsampled.min() + 1e-8)
            with torch.no_grad():
                scores.append(model(images[n : n + 1] * mask)[0, targets[n]])
        weights = torch.softmax(torch.stack(scores), dim=0)
        maps.append(torch.relu((weights[:, None, None] * activations[n]).sum(dim=0)))
    return torch.stack(maps)


class Duplicated(nn.Module):
    """Channels 0–2 are positive multiples of each other and channel 3 is constant, so the engine's
    de-duplication of equal normalised masks is exercised."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1)
        self.register_buffer("scales", torch.tensor([1.0, 2.0, 0.5, 0.0]).view(1, 4, 1, 1))
        self.features = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        features = self.features(self.conv(x) * self.scales + 0.25)
        return self.fc(features.mean(dim=(2, 3)))


@pytest.mark.parametrize("model_class", [GapLinear, Duplicated])
def test_score_cam_equals_a_per_channel_loop(model_class, images):
    torch.manual_seed(5)
    model = model_class().eval()
    targets = torch.tensor([0, 1, 2, 1])
    settings = cams.CamSettings(memory_budget_mb=0.001)  # one row per batch: batching must not matter
    maps = cams.compute(model, images, "scorecam", ["features"], targets, settings=settings)["features"]
    expected = naive_score_cam(model, images, model.features, targets)
    torch.testing.assert_close(maps, expected, rtol=1e-4, atol=1e-6)
    batched = cams.compute(model, images, "scorecam", ["features"], targets)["features"]
    torch.testing.assert_close(batched, expected, rtol=1e-4, atol=1e-6)


def test_score_cam_top_k_keeps_only_the_strongest_channels(gap_model, images):
    targets = torch.tensor([0, 1, 2, 1])
    all_channels = cams.compute(gap_model, images, "scorecam", ["features"], targets)["features"]
    top_all = cams.compute(gap_model, images, "scorecam", ["features"], targets, settings=cams.CamSettings(scorecam_top_k=6))
    torch.testing.assert_close(top_all["features"], all_channels)
    # top-1: the softmax over one channel is 1, so the map is that channel's (ReLU'd) activation.
    top_one = cams.compute(gap_model, images, "scorecam", ["features"], targets, settings=cams.CamSettings(scorecam_top_k=1))
    with torch.no_grad():
        activations = gap_model.features(images)
    strongest = activations.mean(dim=(2, 3)).argmax(dim=1)
    torch.testing.assert_close(top_one["features"], activations[torch.arange(4), strongest])


def test_eigencam_recovers_a_rank_one_pattern():
    # A_k = c_k · P: the centred matrix is (P − P̄) cᵀ, its first component c/‖c‖, the projection ‖c‖(P − P̄).
    pattern = torch.zeros(5, 4)
    pattern[1, 2], pattern[3, 0] = 3.0, 1.0
    loadings = torch.tensor([1.0, -2.0, 0.5])
    activations = (loadings[:, None, None] * pattern)[None]
    expected = torch.relu(loadings.norm() * (pattern - pattern.mean()))
    torch.testing.assert_close(eigen.eigencam(activations)[0], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(eigen.eigencam(-activations)[0], expected, rtol=1e-5, atol=1e-6)  # sign fixed
    maps = cams.compute(nn.Sequential(nn.Identity(), nn.Flatten()), activations, "eigencam", ["0"], None)
    torch.testing.assert_close(maps["0"][0], expected, rtol=1e-5, atol=1e-6)


def unet():
    torch.manual_seed(2)
    model = UNet(widths=(4, 8, 8, 16)).eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
    return model


def test_unet_ablation_reruns_only_the_decoder_and_equals_full_reruns():
    model = unet()
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    targets = cams.RegionTargets(torch.tensor([1, 0]))
    # Count calls of leaf modules: the split graphs call those (their containers are traced through).
    counted = {"encoder1": model.encoder1[0], "encoder4": model.encoder4[1], "decoder1": model.decoder1.convs[0]}
    calls = dict.fromkeys(counted, 0)
    handles = [
        module.register_forward_pre_hook(lambda _m, _a, name=name: calls.__setitem__(name, calls[name] + 1))
        for name, module in counted.items()
    ]
    try:
        cut = split.split_at(model, "encoder4")
        # The layer's output and the three skip tensors (the last nodes of encoder3, encoder2, encoder1).
        assert cut.crossing[0] == "encoder4" and [name[:8] for name in cut.crossing[1:]] == ["encoder3", "encoder2", "encoder1"]
        with torch.inference_mode():
            bound = targets.bind(model(x))
            calls.update({name: 0 for name in calls})
            tail_maps = ablation.ablation_cam(model, x, "encoder4", targets, 0.001, cut)  # one row per batch
    finally:
        for handle in handles:
            handle.remove()
    assert calls["encoder1"] == calls["encoder4"] == 1  # the head ran once
    rows = 2 * 16  # images × channels of encoder4
    assert calls["decoder1"] == 1 + 1 + rows  # the unablated tail, the memory probe, one call per row
    full_maps = cams.compute(model, x, "ablationcam", ["encoder4"], targets, settings=cams.CamSettings(ablation_strategy="full"))
    torch.testing.assert_close(tail_maps, full_maps["encoder4"], rtol=1e-4, atol=1e-6)
    assert bound.masks.shape == (2, 16, 16)


def test_region_target_is_the_sum_of_class_logits_over_the_region():
    outputs = torch.arange(2 * 2 * 2 * 3, dtype=torch.float32).view(2, 2, 2, 3)
    masks = torch.zeros(2, 2, 3, dtype=torch.bool)
    masks[0, 0, :2] = True
    masks[1, 1, 2] = True
    bound = cams.RegionTargets(torch.tensor([1, 0]), masks).bind(outputs)
    # image 0, class 1: values 6..11, region (0,0),(0,1) → 6 + 7; image 1, class 0: values 12..17, (1,2) → 17
    torch.testing.assert_close(bound.scores(outputs), torch.tensor([13.0, 17.0]))
    predicted = cams.RegionTargets(torch.tensor([1, 0])).bind(outputs)  # class 1 wins everywhere
    assert predicted.masks[0].all() and not predicted.masks[1].any()
    with pytest.raises(ValueError, match=r"region masks must have shape \(2, 2, 3\)"):
        cams.RegionTargets(torch.tensor([1, 0]), masks[:, :1]).bind(outputs)


def test_unet_gradcam_with_the_region_target_matches_autograd_by_hand():
    model = unet()
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    region = torch.zeros(2, 16, 16, dtype=torch.bool)
    region[:, 4:12, 6:14] = True
    targets = cams.RegionTargets(torch.tensor([1, 0]), region)
    maps = cams.compute(model, x, "gradcam", ["encoder3"], targets)["encoder3"]
    skip1 = model.encoder1(x)
    skip2 = model.encoder2(skip1)
    skip3 = model.encoder3(skip2).detach().requires_grad_(True)
    out = model.head(model.decoder1(model.decoder2(model.decoder3(model.encoder4(skip3), skip3), skip2), skip1))
    (grad,) = torch.autograd.grad((out[0, 1] * region[0]).sum() + (out[1, 0] * region[1]).sum(), skip3)
    expected = torch.relu((grad.mean(dim=(2, 3))[:, :, None, None] * skip3).sum(dim=1)).detach()
    torch.testing.assert_close(maps, expected, rtol=1e-4, atol=1e-6)
    assert maps.sum() > 0


@pytest.mark.parametrize("method", ["scorecam", "ablationcam", "eigencam"])
def test_model_is_left_exactly_as_it_was(method):
    model = UNet(widths=(4, 8, 8, 16))
    model.train()
    model.encoder1.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    cams.compute(model, torch.randn(2, 3, 16, 16), method, ["encoder3", "encoder4"], cams.RegionTargets(torch.tensor([0, 1])))
    assert model.training and all(m.training for m in model.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], msg=key)


@pytest.mark.parametrize("method", ["scorecam", "ablationcam", "eigencam", "gradcam"])
def test_nan_activations_name_the_layer(gap_model, images, method):
    with torch.no_grad():
        gap_model.features[0].bias[2] = float("nan")
    with pytest.raises(FloatingPointError, match="activations of layer 'features' contain NaN or inf"):
        cams.compute(gap_model, images, method, ["features"], [0, 1, 2, 0])


def test_bad_targets(gap_model, images):
    with pytest.raises(ValueError, match="got 3 targets for 4 images"):
        cams.compute(gap_model, images, "scorecam", ["features"], [0, 1, 2])
    with pytest.raises(ValueError, match="got 2 region masks for 4 images"):
        cams.compute(gap_model, images, "ablationcam", ["features"], cams.RegionTargets([0, 1, 2, 0], torch.ones(2, 6, 6)))
    with pytest.raises(ValueError, match="targets are required for every method except eigencam"):
        cams.compute(gap_model, images, "scorecam", ["features"], None)
    with pytest.raises(ValueError, match=r"region targets need segmenter outputs \(N, C, H, W\)"):
        cams.compute(gap_model, images, "gradcam", ["features"], cams.RegionTargets([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="unknown CAM method 'ablation'; valid: .*scorecam, ablationcam"):
        cams.compute(gap_model, images, "ablation", ["features"], [0, 1, 2, 0])
