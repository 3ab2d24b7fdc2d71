import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from camsweep import attention
from camsweep.attention import AttentionObjective, AttentionSettings
from camsweep.data import synthetic
from camsweep.models import classifiers, training


def _left_half(n: int, size: int) -> torch.Tensor:
    regions = torch.zeros(n, size, size, dtype=torch.bool)
    regions[:, :, : size // 2] = True
    return regions


# --- settings and schedule -------------------------------------------------------------------------


def test_settings_validation_names_the_field():
    AttentionSettings("layer4", ce_weight=0.0)
    AttentionSettings("layer4", ce_weight=1, skip_classes=[0, 2])  # a list is stored as a tuple
    assert AttentionSettings("layer4", skip_classes=[0, 2]).skip_classes == (0, 2)
    bad = [
        (dict(layer=""), "layer"), (dict(ce_weight=1.5), "ce_weight"), (dict(ce_weight="fixed"), "ce_weight"),
        (dict(ce_weight=True), "ce_weight"), (dict(loss="l2"), "loss"), (dict(threshold=-0.1), "threshold"),
        (dict(temperature=0.0), "temperature"), (dict(temperature=float("inf")), "temperature"),
        (dict(skip_classes=(-1,)), "skip_classes"), (dict(skip_classes=(0.5,)), "skip_classes"),
        (dict(skip_classes=3), "skip_classes"),
    ]
    for kwargs, field in bad:
        with pytest.raises(ValueError, match=field):
            AttentionSettings(**{"layer": "layer4", **kwargs})


def test_ce_weight_schedule_by_hand():
    adaptive = AttentionSettings("layer4", ce_weight="adaptive")
    assert attention.ce_weight(adaptive, 0) == pytest.approx(1.0)
    assert attention.ce_weight(adaptive, 1) == pytest.approx(0.977)
    assert attention.ce_weight(adaptive, 10) == pytest.approx(0.77)
    assert attention.ce_weight(adaptive, 34) == pytest.approx(0.218)
    assert attention.ce_weight(adaptive, 35) == pytest.approx(0.2)  # 1 − 0.805 = 0.195 → floor
    assert attention.ce_weight(adaptive, 40) == pytest.approx(0.2)
    assert attention.ce_weight(AttentionSettings("layer4", ce_weight=0.3), 7) == 0.3
    with pytest.raises(ValueError, match="counted from 0"):
        attention.ce_weight(adaptive, -1)


# --- the loss and metrics by hand --------------------------------------------------------------------


def test_loss_and_metrics_by_hand():
    cam = torch.tensor([[[1.0, 0.0], [0.0, 3.0]]])
    top_left = torch.tensor([[[True, False], [False, False]]])
    bottom_right = ~top_left & torch.tensor([[[False, False], [False, True]]])
    mass = AttentionSettings("x")
    assert attention.cam_mass_inside(cam, top_left).item() == pytest.approx(0.25)
    assert attention.attention_loss(cam, top_left, mass).item() == pytest.approx(0.75)
    # normalised map [[1/3, 0], [0, 1]]: only the bottom-right pixel exceeds 0.5
    assert attention.hard_threshold_ratio(cam, top_left).item() == 0.0
    assert attention.hard_threshold_ratio(cam, bottom_right).item() == 1.0
    assert attention.hard_threshold_ratio(cam, top_left, threshold=0.3).item() == 1.0
    soft = AttentionSettings("x", loss="soft_threshold", threshold=0.5, temperature=0.1)
    expected = 1 - torch.sigmoid(torch.tensor((1 / 3 - 0.5) / 0.1)).item()
    assert attention.attention_loss(cam, top_left, soft).item() == pytest.approx(expected)
    both = top_left | bottom_right
    expected = 1 - (torch.sigmoid(torch.tensor((1 / 3 - 0.5) / 0.1)) + torch.sigmoid(torch.tensor(5.0))).item() / 2
    assert attention.attention_loss(cam, both, soft).item() == pytest.approx(expected)
    # A 1×1 map upsamples to a constant: its mass inside is the region's share of the image.
    regions = _left_half(1, 8)
    assert attention.cam_mass_inside(torch.ones(1, 1, 1), regions).item() == pytest.approx(0.5)
    # Bilinear upsampling of a 2×2 map to 4×4 (align_corners=False): rows/columns 0.25/0.75 interpolation.
    up = torch.nn.functional.interpolate(cam[:, None], size=(4, 4), mode="bilinear", align_corners=False)[:, 0]
    region4 = torch.zeros(1, 4, 4, dtype=torch.bool)
    region4[0, :2, :2] = True
    assert attention.cam_mass_inside(cam, region4).item() == pytest.approx((up[0, :2, :2].sum() / up.sum()).item())
    assert attention.cam_mass_inside(cam, region4.numpy()).item() == pytest.approx((up[0, :2, :2].sum() / up.sum()).item())


def test_all_zero_cam_and_empty_region_conventions():
    zero = torch.zeros(2, 3, 3, requires_grad=True)
    regions = _left_half(2, 6)
    mass_loss = attention.attention_loss(zero, regions, AttentionSettings("x"))
    assert mass_loss.tolist() == [1.0, 1.0]
    mass_loss.sum().backward()
    assert torch.isfinite(zero.grad).all()
    soft = AttentionSettings("x", loss="soft_threshold")
    soft_loss = attention.attention_loss(torch.zeros(2, 3, 3), regions, soft)
    np.testing.assert_allclose(soft_loss.numpy(), 1 - torch.sigmoid(torch.tensor(-10.0)).item(), rtol=1e-6)
    assert attention.cam_mass_inside(torch.zeros(2, 3, 3), regions).tolist() == [0.0, 0.0]
    assert attention.hard_threshold_ratio(torch.zeros(2, 3, 3), regions).tolist() == [0.0, 0.0]
    empty = torch.zeros(1, 6, 6, dtype=torch.bool)
    cam = torch.rand(1, 3, 3, generator=torch.Generator().manual_seed(0)) + 0.1
    for settings in (AttentionSettings("x"), soft):
        assert attention.attention_loss(cam, empty, settings).item() == 1.0
    assert attention.cam_mass_inside(cam, empty).item() == 0.0
    assert attention.hard_threshold_ratio(cam, empty).item() == 0.0
    with pytest.raises(ValueError, match="expected cam"):
        attention.attention_loss(cam, torch.zeros(2, 6, 6, dtype=torch.bool), soft)


# --- live Grad-CAM and its gradient ------------------------------------------------------------------


def test_live_gradcam_at_layer4_is_the_class_activation_map():
    # After layer4 come only global average pooling and fc, so Grad-CAM = ReLU(Σ_k w_ck/(hw) · A_k).
    torch.manual_seed(0)
    model = classifiers.build(classifiers.ClassifierSpec("resnet18", 3, stem="compact", last_stride=1)).eval()
    x = torch.randn(4, 3, 32, 32)
    classes = torch.tensor([0, 1, 2, 1])
    logits, cam = attention.live_gradcam(model, x, classes, "layer4")
    features = nn.Sequential(*list(model.children())[:-2])
    with torch.no_grad():
        a = features(x)
        expected = torch.relu(torch.einsum("nk,nkhw->nhw", model.fc.weight[classes] / (4 * 4), a))
        torch.testing.assert_close(logits, model(x))
    assert cam.shape == (4, 4, 4) and cam.dtype == torch.float32
    torch.testing.assert_close(cam.detach(), expected, rtol=1e-4, atol=1e-6)
    assert not model.layer4._forward_hooks


def test_live_gradcam_removes_its_hook_on_error_and_checks_inputs():
    model = torchvision.models.resnet18(num_classes=3)
    with pytest.raises(ValueError, match="unknown layer"):
        attention.live_gradcam(model, torch.randn(2, 3, 32, 32), torch.tensor([0, 1]), "layer9")
    with pytest.raises(ValueError, match="classes must have shape"):
        attention.live_gradcam(model, torch.randn(2, 3, 32, 32), torch.tensor([0]), "layer4")
    with pytest.raises(RuntimeError):  # wrong channel count: the forward fails after the hook is set
        attention.live_gradcam(model, torch.randn(2, 4, 32, 32), torch.tensor([0, 1]), "layer4")
    assert not model.layer4._forward_hooks
    with torch.no_grad(), pytest.raises(RuntimeError, match="needs autograd"):
        attention.live_gradcam(model, torch.randn(2, 3, 32, 32), torch.tensor([0, 1]), "layer4")


@pytest.mark.parametrize("loss", ["mass", "soft_threshold"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_attention_term_has_a_gradient_wrt_the_weights(loss, dtype):
    # torchvision's own resnet18: at 64 px layer4 is 2×2 (at 32 px it would be 1×1, a constant map
    # after upsampling, whose mass ratio cannot depend on anything).
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=3).train()
    x = torch.randn(4, 3, 64, 64)
    classes = torch.tensor([0, 1, 2, 0])
    regions = _left_half(4, 64)
    settings = AttentionSettings("layer4", loss=loss)
    with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
        logits, cam = attention.live_gradcam(model, x, classes, "layer4")
    assert cam.dtype == torch.float32 and cam.shape == (4, 2, 2)
    l_att = attention.attention_loss(cam, regions, settings).mean()
    params = {name: p for name, p in model.named_parameters()}
    names = ["conv1.weight", "layer1.0.conv1.weight", "layer4.0.conv1.weight", "layer4.1.conv2.weight", "fc.weight"]
    grads = torch.autograd.grad(l_att, [params[n] for n in names], allow_unused=True)
    for name, grad in zip(names, grads, strict=True):
        assert grad is not None, name
        assert torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name


def test_a_detached_numpy_attention_term_has_no_gradient():
    """The attention study's original bug: L_att computed in NumPy on a detached copy leaves the gradient that of CE."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=3).train()
    x = torch.randn(4, 3, 64, 64)
    classes = torch.tensor([0, 1, 2, 0])
    regions = _left_half(4, 64).numpy()

    def grads(use_live: bool) -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        logits, cam = attention.live_gradcam(model, x, classes, "layer4")
        ce = nn.functional.cross_entropy(logits, classes)
        if use_live:
            l_att = attention.attention_loss(cam, regions, AttentionSettings("layer4")).mean()
        else:  # NumPy on a detached copy, as in the original
            maps = cam.detach().numpy()
            up = np.kron(maps, np.ones((32, 32)))
            l_att = torch.tensor(np.mean(1 - (up * regions).sum((1, 2)) / (up.sum((1, 2)) + 1e-12)))
            assert not l_att.requires_grad
        (0.5 * ce + 0.5 * l_att).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    def ce_only() -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        logits = model(x)
        (0.5 * nn.functional.cross_entropy(logits, classes)).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    detached, live, reference = grads(False), grads(True), ce_only()
    for name in ("conv1.weight", "layer4.1.conv2.weight", "fc.weight"):
        torch.testing.assert_close(detached[name], reference[name])  # the attention term added nothing
        assert not torch.allclose(live[name], reference[name])


class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


@pytest.mark.parametrize("loss", ["mass", "soft_threshold"])
def test_one_step_on_the_attention_term_moves_the_map_into_the_region(loss):
    torch.manual_seed(0)
    model = _Toy()
    x = torch.randn(8, 3, 16, 16)
    classes = torch.arange(8) % 3
    regions = _left_half(8, 16)
    settings = AttentionSettings("features", loss=loss)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)

    def measure() -> tuple[torch.Tensor, torch.Tensor]:
        _, cam = attention.live_gradcam(model, x, classes, "features")
        return attention.attention_loss(cam, regions, settings).mean(), attention.cam_mass_inside(cam.detach(), regions).mean()

    before_loss, before_mass = measure()
    optimiser.zero_grad()
    before_loss.backward()
    optimiser.step()
    after_loss, after_mass = measure()
    assert after_loss.item() < before_loss.item()
    assert after_mass.item() > before_mass.item() + 0.01


# --- training ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    spec = synthetic.SyntheticSpec(image_size=32, classes=("circle", "square"))
    return synthetic.generate(spec, 16, "train", 0), synthetic.generate(spec, 8, "val", 0)


SPEC = classifiers.ClassifierSpec("resnet18", 2, stem="compact", last_stride=1)
SETTINGS = training.TrainSettings(epochs=1, batch_size=8, precision="float32")


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_flips_draw_as_before_and_move_regions_with_their_images():
    # The draws of the code before attention existed: horizontal then vertical, one rand(n) each.
    def old_flip(batch, generator):
        n = batch.shape[0]
        horizontal = torch.rand(n, generator=generator) < 0.5
        vertical = torch.rand(n, generator=generator) < 0.5
        batch = torch.where(horizontal.view(-1, 1, 1, 1), batch.flip(3), batch)
        return torch.where(vertical.view(-1, 1, 1, 1), batch.flip(2), batch)

    images = torch.rand(16, 3, 5, 7)
    masks = images[:, 0] > 0.5
    flags = training.draw_flips(16, torch.Generator().manual_seed(4))
    flipped_images, flipped_masks = training.apply_flips(images, *flags), training.apply_flips(masks, *flags)
    assert torch.equal(flipped_images, old_flip(images, torch.Generator().manual_seed(4)))
    assert torch.equal(flipped_images[:, 0] > 0.5, flipped_masks)


def test_train_without_attention_is_unchanged(tiny):
    plain, plain_history = training.train(SPEC, *tiny, SETTINGS, seed=0, progress=False)
    explicit, explicit_history = training.train(SPEC, *tiny, SETTINGS, seed=0, progress=False, objective=training.CrossEntropy())
    assert _same(_state(plain), _state(explicit))
    strip = lambda history: [{k: v for k, v in row.items() if k != "seconds"} for row in history]  # noqa: E731
    assert strip(plain_history) == strip(explicit_history)
    assert set(plain_history[0]) == {"epoch", "precision", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}


def test_train_with_attention_runs_is_deterministic_and_differs_from_ce(tiny):
    train_set, val_set = tiny
    settings = AttentionSettings("layer4", ce_weight=0.5)
    kwargs = dict(progress=False, objective=AttentionObjective(settings, train_set.masks, val_set.masks))
    first, history = training.train(SPEC, *tiny, SETTINGS, seed=0, **kwargs)
    again, _ = training.train(SPEC, *tiny, SETTINGS, seed=0, **kwargs)
    plain, _ = training.train(SPEC, *tiny, SETTINGS, seed=0, progress=False)
    assert _same(_state(first), _state(again))
    assert not _same(_state(first), _state(plain))
    row = history[0]
    assert row["ce_weight"] == 0.5
    for key in ("attention_loss", "train_mass_inside", "train_hard_ratio", "val_mass_inside"):
        assert 0.0 <= row[key] <= 1.0, key
    # the epoch's mean L_att (mass form) is 1 − its mean mass inside
    assert row["attention_loss"] == pytest.approx(1 - row["train_mass_inside"], abs=1e-5)


def test_train_with_attention_under_bfloat16_and_skip_classes(tiny):
    train_set, val_set = tiny
    settings = AttentionSettings("layer4.1", ce_weight="adaptive", loss="soft_threshold", skip_classes=(0,))
    model, history = training.train(
        SPEC, *tiny, training.TrainSettings(epochs=1, batch_size=8, precision="bfloat16"), seed=1, progress=False,
        objective=AttentionObjective(settings, train_set.masks),
    )
    row = history[0]
    assert row["precision"] == "bfloat16" and row["ce_weight"] == 1.0 and "val_mass_inside" not in row
    assert np.isfinite(row["attention_loss"]) and np.isfinite(row["train_loss"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # every class skipped: no image carries the term, the metrics are NaN and training still runs
    _, history = training.train(
        SPEC, *tiny, SETTINGS, seed=1, progress=False,
        objective=AttentionObjective(AttentionSettings("layer4", skip_classes=(0, 1)), train_set.masks),
    )
    assert np.isnan(history[0]["attention_loss"]) and np.isnan(history[0]["train_mass_inside"])


def test_train_with_attention_checks_regions(tiny):
    train_set, val_set = tiny
    settings = AttentionSettings("layer4")
    with pytest.raises(ValueError, match="train_regions .* are required"):
        training.train(SPEC, *tiny, SETTINGS, seed=0, progress=False, objective=AttentionObjective(settings, None))
    with pytest.raises(ValueError, match=r"train_regions must have shape \(16, 32, 32\)"):
        training.train(SPEC, *tiny, SETTINGS, seed=0, progress=False, objective=AttentionObjective(settings, train_set.masks[:4]))
    with pytest.raises(ValueError, match="train_regions must be bool"):
        training.train(SPEC, *tiny, SETTINGS, seed=0, progress=False, objective=AttentionObjective(settings, train_set.masks.astype(np.uint8)))
    with pytest.raises(ValueError, match=r"val_regions must have shape \(8, 32, 32\)"):
        training.train(SPEC, *tiny, SETTINGS, seed=0, progress=False,
                       objective=AttentionObjective(settings, train_set.masks, train_set.masks))
    with pytest.raises(ValueError, match="unknown layer"):
        training.train(SPEC, *tiny, SETTINGS, seed=0, progress=False,
                       objective=AttentionObjective(AttentionSettings("layer5"), train_set.masks))


def test_lambda_table_puts_the_published_values_beside_the_studys_network_only():
    import pandas as pd

    from camsweep.studies.attention_training import lambda_table

    metrics = {}
    for metric in lambda_table.METRICS:
        metrics |= {metric: [0.5, 0.6, 0.7], f"{metric}_low": [0.4, 0.5, 0.6], f"{metric}_high": [0.6, 0.7, 0.8]}
    classifiers = pd.DataFrame({"study": ["main"] * 3, "dataset": ["x"] * 3, "model": ["pvt", "pvt_ce", "resnet"],
                                "n": [10] * 3, **metrics})
    table = lambda_table.lambda_table(
        classifiers, {"pvt": "adaptive", "pvt_ce": "1", "resnet": "adaptive"},
        {"pvt": "timm/pvt_v2_b2_li.in1k", "pvt_ce": "timm/pvt_v2_b2_li", "resnet": "resnet50"},
    )
    assert list(table["accuracy_published"][:2]) == [0.855, 0.817]  # adaptive, then cross-entropy (λ = 1)
    assert np.isnan(table["accuracy_published"][2])  # ResNet-50: the published numbers are not its own
    assert list(table["roc_auc"]) == [0.5, 0.6, 0.7] and list(table["architecture"])[2] == "resnet50"
