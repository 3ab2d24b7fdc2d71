"""ROAD: the imputer by hand, removal order and counts, the area rule, noise keying, and agreement with
pytorch-grad-cam 1.5.7's ROAD.

The agreement runs with the noise off on both sides. pytorch-grad-cam draws its noise from torch's global
generator in the order of its removed-pixel indices, camsweep from generators keyed by image, curve and
percentage; the draws cannot be lined up, and without them everything else is compared: order, counts,
imputation, probabilities and the averaging rule. The noise is tested on its own below.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import torch
import yaml
from torch import nn

from camsweep import config, seeding
from camsweep.data import synthetic
from camsweep.metrics import road
from camsweep.models import classifiers
from test_faithfulness import tiny_net


class ChangedPixels:
    """p_0 = share of pixels differing from ``value`` in any channel, p_1 = 1 − p_0; records every batch."""

    def __init__(self, value: float = 0.5):
        self.value = value
        self.batches: list[torch.Tensor] = []

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        self.batches.append(batch.clone())
        changed = (batch != self.value).any(dim=1).flatten(1).double().mean(dim=1)
        return torch.stack([changed, 1 - changed], dim=1)


# ------------------------------------------------------------------------------------------ the imputer


def test_one_removed_pixel_is_the_weighted_mean_of_its_eight_neighbours():
    image = np.arange(27, dtype=float).reshape(3, 3, 3) ** 1.5  # three different channels
    removed = np.zeros((3, 3), bool)
    removed[1, 1] = True
    direct = image[:, 0, 1] + image[:, 2, 1] + image[:, 1, 0] + image[:, 1, 2]
    diagonal = image[:, 0, 0] + image[:, 0, 2] + image[:, 2, 0] + image[:, 2, 2]
    imputed = road.linear_imputation(image, removed)
    np.testing.assert_allclose(imputed[:, 1, 1], direct / 6 + diagonal / 12, rtol=1e-14)
    assert (imputed[:, ~removed] == image[:, ~removed]).all()


def test_a_corner_pixel_averages_the_three_neighbours_it_has():
    image = np.array([[[0.0, 0.2, 0.9], [0.4, 0.7, 0.1]]])  # one channel, 2 × 3
    removed = np.zeros((2, 3), bool)
    removed[0, 0] = True
    # Weights 1/6 (right), 1/6 (below), 1/12 (diagonal), normalised by their sum 5/12.
    expected = (2 * 0.2 + 2 * 0.4 + 0.7) / 5
    assert road.linear_imputation(image, removed)[0, 0, 0] == pytest.approx(expected, rel=1e-14)


def test_two_adjacent_removed_pixels_solve_their_system_by_hand():
    # Zeros except a 6 left of the pair: x1 = 6/6 + x2/6 and x2 = 0 + x1/6, so x1 = 36/35 and x2 = 6/35.
    image = np.zeros((1, 3, 4))
    image[0, 1, 0] = 6.0
    removed = np.zeros((3, 4), bool)
    removed[1, 1:3] = True
    imputed = road.linear_imputation(image, removed)
    np.testing.assert_allclose(imputed[0, 1, 1:3], [36 / 35, 6 / 35], rtol=1e-14)


def test_an_interior_hole_in_a_linear_ramp_is_filled_exactly():
    # The stencil is symmetric with weights summing to one, so it reproduces affine images away from the border.
    rows, columns = np.mgrid[0:12, 0:12]
    image = np.stack([0.1 + 0.02 * rows + 0.03 * columns, 0.9 - 0.05 * rows, 0.5 + 0.01 * columns])
    removed = np.zeros((12, 12), bool)
    removed[3:9, 2:10] = True
    np.testing.assert_allclose(road.linear_imputation(image, removed), image, atol=1e-13)


def test_nothing_removed_is_a_copy_and_everything_removed_is_an_error():
    image = np.random.default_rng(0).random((3, 4, 4))
    kept = road.linear_imputation(image, np.zeros((4, 4), bool))
    assert np.array_equal(kept, image) and kept is not image
    with pytest.raises(ValueError, match="every pixel is removed"):
        road.linear_imputation(image, np.ones((4, 4), bool))


def test_noise_is_a_standard_normal_field_on_the_removed_pixels_only():
    image = np.random.default_rng(0).random((3, 6, 5))
    removed = np.random.default_rng(1).random((6, 5)) < 0.4
    noisy = road.noisy_linear_imputation(image, removed, 0.1, seeding.rng(3, "x"))
    field = seeding.rng(3, "x").standard_normal((3, 6, 5))
    difference = noisy - road.linear_imputation(image, removed)
    np.testing.assert_allclose(difference[:, removed], 0.1 * field[:, removed], rtol=1e-12, atol=1e-15)
    assert (difference[:, ~removed] == 0).all()


# ------------------------------------------------------------------------------------- order and counts


def test_removal_counts_round_to_the_nearest_pixel():
    np.testing.assert_array_equal(road.removal_counts(49, [0, 10, 25, 50]), [0, 5, 12, 25])  # 4.9, 12.25, 24.5
    assert road.removal_counts(100, [29])[0] == 29  # int(100 · 0.29) is 28 in floating point
    for bad in ([100], [-1], [float("nan")], [[10]]):
        with pytest.raises(ValueError, match=r"\[0, 100\)"):
            road.removal_counts(49, bad)
    with pytest.raises(ValueError, match="removes all 10 pixels"):
        road.removal_counts(10, [96])


def test_morf_removes_by_decreasing_saliency_and_lerf_from_the_other_end_ties_by_index():
    saliency = np.array([[[1.0, 3.0, 3.0], [0.0, 3.0, 1.0]]])  # MoRF order of flat indices: 1, 2, 4, 0, 5, 3

    def removed(percentage, curve):
        return np.flatnonzero(road.removal_masks(saliency, percentage, curve)[0]).tolist()

    assert removed(34, "morf") == [1, 2]  # 2.04 → 2 pixels: the tied 3s with the smallest indices
    assert removed(34, "lerf") == [3, 5]  # the 0, then of the tied 1s the larger index
    assert removed(50, "morf") == [1, 2, 4] and removed(50, "lerf") == [0, 3, 5]
    constant = np.full((1, 4, 4), 2.0)  # row-major tie order: MoRF takes the top rows, LeRF the bottom ones
    assert road.removal_masks(constant, 50, "morf")[0, :2].all() and road.removal_masks(constant, 50, "lerf")[0, 2:].all()


def test_lerf_keeps_at_p_what_morf_removes_at_100_minus_p():
    saliency = np.random.default_rng(0).integers(0, 3, (4, 4, 5)).astype(float)  # many ties
    for percentage in (10, 30, 50, 70, 90):
        np.testing.assert_array_equal(road.removal_masks(saliency, percentage, "lerf"),
                                      ~road.removal_masks(saliency, 100 - percentage, "morf"))


# ------------------------------------------------------------------------------------------ curves and areas


def test_curves_count_the_removed_pixels_and_the_area_is_their_mean():
    # A grey image whose removed pixels alone carry noise: p_0 = share removed = n_p / 49.
    images = torch.full((2, 3, 7, 7), 0.5, dtype=torch.float64)
    maps = np.random.default_rng(0).random((2, 7, 7))
    result = road.road(ChangedPixels(), images, maps, torch.tensor([0, 1]), percentages=[10, 25, 50], noise=0.25)
    expected = np.array([5, 12, 25]) / 49
    np.testing.assert_allclose(result.morf_curves, [expected, 1 - expected])
    np.testing.assert_allclose(result.lerf_curves, [expected, 1 - expected])
    np.testing.assert_allclose(result.morf, [2 / 7, 5 / 7])  # (5 + 12 + 25) / 3 / 49 = 2/7
    np.testing.assert_array_equal(result.gap, result.lerf - result.morf)
    np.testing.assert_array_equal(result.percentages, [10, 25, 50])


def test_the_model_sees_the_documented_derived_images_in_batches():
    rng = np.random.default_rng(0)
    images = torch.as_tensor(rng.random((3, 3, 6, 5)))
    maps = rng.random((3, 6, 5))
    model = ChangedPixels()
    percentages, ids = [20, 60], np.array(["a", "b", "c"])
    road.road(model, images, maps, torch.tensor([0, 1, 0]), percentages=percentages, noise=0.05, seed=4, ids=ids,
              batch_size=5)
    assert [len(batch) for batch in model.batches] == [5, 5, 2]  # 3 images × 2 curves × 2 percentages
    seen = torch.cat(model.batches).view(3, 2, 2, 3, 6, 5)
    for image in range(3):
        for c, curve in enumerate(road.CURVES):
            for j, percentage in enumerate(percentages):
                removed = road.removal_masks(maps[image : image + 1], percentage, curve)[0]
                expected = road.noisy_linear_imputation(
                    images[image].numpy(), removed, 0.05, seeding.rng(4, "road", str(ids[image]), curve, float(percentage)))
                np.testing.assert_array_equal(seen[image, c, j].numpy(), expected)


def test_results_depend_on_the_image_id_not_on_batches_or_shards():
    rng = np.random.default_rng(1)
    images = torch.as_tensor(rng.random((3, 3, 8, 8)))
    maps, targets, ids = rng.random((3, 8, 8)), torch.tensor([0, 1, 2]), np.array([7, 8, 9])
    probabilities = tiny_cnn(classes=3)
    whole = road.road(probabilities, images, maps, targets, ids=ids, seed=2, batch_size=64)
    again = road.road(probabilities, images, maps, targets, ids=ids, seed=2, batch_size=1)
    shard = road.road(probabilities, images[2:], maps[2:], targets[2:], ids=ids[2:], seed=2, batch_size=3)
    # Equal derived images; the CNN's kernels may round differently at another batch size.
    np.testing.assert_allclose(whole.morf_curves, again.morf_curves, rtol=0, atol=1e-12)
    np.testing.assert_allclose(whole.lerf_curves[2:], shard.lerf_curves, rtol=0, atol=1e-12)
    other_seed = road.road(probabilities, images, maps, targets, ids=ids, seed=3)
    assert not np.array_equal(whole.morf_curves, other_seed.morf_curves)


def test_no_percentages_means_no_forwards_and_nan_areas():
    model = ChangedPixels()
    result = road.road(model, torch.rand(2, 3, 4, 4), np.random.rand(2, 4, 4), torch.tensor([0, 1]), percentages=[])
    assert model.batches == [] and np.isnan(result.morf).all() and result.morf_curves.shape == (2, 0)
    empty = road.road(model, torch.rand(0, 3, 4, 4), np.zeros((0, 4, 4)), torch.zeros(0, dtype=torch.long))
    assert empty.morf.shape == (0,) and model.batches == []


def test_bad_inputs_are_errors():
    images, maps, targets = torch.rand(2, 3, 4, 4), np.random.rand(2, 4, 4), torch.tensor([0, 1])
    model = ChangedPixels()
    with pytest.raises(ValueError, match="noise"):
        road.road(model, images, maps, targets, noise=-0.1)
    with pytest.raises(ValueError, match="ids has 1 entries"):
        road.road(model, images, maps, targets, ids=["a"])
    with pytest.raises(ValueError, match="removes all 16 pixels"):
        road.road(model, images, maps, targets, percentages=[99])
    with pytest.raises(ValueError, match="NaN"):
        road.road(model, images, np.full((2, 4, 4), np.nan), targets)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        road.road(model, images * 255, maps, targets)
    with pytest.raises(ValueError, match="unknown curve"):
        road.removal_masks(maps, 10, "both")


def test_config_defaults_and_validation():
    root = Path(__file__).resolve().parents[1]
    schema = config.load_schema(root / "workflow/schemas/config.schema.yaml")
    cfg = yaml.safe_load((root / "config/config.yaml").read_text())
    del cfg["faithfulness"]["road"]
    assert config.validate(copy.deepcopy(cfg), schema)["faithfulness"]["road"] == {
        "percentages": list(road.DEFAULT_PERCENTAGES), "noise": road.DEFAULT_NOISE}
    for bad, words in (({"percentages": [10, 100]}, "100 is greater than or equal to the maximum of 100"),
                       ({"percentages": [10, 10]}, "has non-unique elements"),
                       ({"noise": -0.1}, "-0.1 is less than the minimum of 0")):
        cfg["faithfulness"]["road"] = bad
        with pytest.raises(config.ConfigError, match=words):
            config.validate(copy.deepcopy(cfg), schema)


# ------------------------------------------------------------------------------------- pytorch-grad-cam

# pytorch-grad-cam passes torch tensors to NumPy functions, through torch's __array_wrap__, which NumPy 2
# deprecates: its warning, not ours.
THEIR_NUMPY_CALLS = pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")


def tiny_cnn(seed: int = 0, classes: int = 5):
    net = tiny_net(seed, classes)
    return lambda batch: torch.softmax(net(batch), dim=1)


def logit_lipschitz(net: nn.Sequential) -> float:
    """A bound on max_k |Δ logit_k| / max |Δ input| (∞-norms): ReLU and average pooling are 1-Lipschitz,
    the convolution and the linear layer at most their largest absolute row sums."""
    convolution, linear = net[0].weight.detach(), net[-1].weight.detach()
    return float(convolution.abs().sum(dim=(1, 2, 3)).max() * linear.abs().sum(dim=1).max())


@THEIR_NUMPY_CALLS
def test_the_imputer_agrees_with_pytorch_grad_cams(capsys):
    pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    rng = np.random.default_rng(0)
    image = rng.random((3, 23, 17)).astype(np.float32)
    removed = rng.random((23, 17)) < 0.5  # scattered pixels, borders and corners included
    removed[5:15, 3:12] = True  # and a block
    theirs = NoisyLinearImputer(noise=0.0)(torch.from_numpy(image), torch.from_numpy((~removed).astype(np.float32)))
    difference = np.abs(road.linear_imputation(image, removed) - theirs.numpy()).max()
    with capsys.disabled():
        print(f"\npytorch-grad-cam NoisyLinearImputer agreement (noise 0): max |Δ| {difference:.1e}")
    # Same float32 inputs, but it forms the right-hand side's products w·x in float32 and rounds its
    # solution to float32, each at most 2^-24 relative. The system is an M-matrix whose rows sum to the
    # kept neighbours' weights, so the first moves the solution by at most 2^-24·max|x| too; max|x| ≤ 1.
    assert difference <= 2 * 2.0**-24 + 1e-12


@THEIR_NUMPY_CALLS
def test_curves_and_averages_agree_with_pytorch_grad_cam(capsys):
    pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.metrics.perturbation_confidence import (
        AveragerAcrossThresholds, PerturbationConfidenceMetric, RemoveLeastRelevantFirst, RemoveMostRelevantFirst,
    )
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    # 40 × 40 = 1600 pixels: p · 1600 / 100 is an integer on the 10 % grid, where camsweep's count, the
    # paper's floor and pytorch-grad-cam's percentile threshold all remove 16·p pixels. The maps are the
    # ranks of a smooth random field: blob-shaped regions like a CAM's, and no ties.
    split = synthetic.generate(synthetic.SyntheticSpec(image_size=40), 4, "test", seed=5)
    pixels = classifiers.unit_range(split.images).double()
    field = scipy.ndimage.gaussian_filter(np.random.default_rng(0).random((4, 40, 40)), 4, axes=(1, 2))
    ranks = field.reshape(4, -1).argsort(axis=1).argsort(axis=1).reshape(4, 40, 40).astype(np.float32)
    net = tiny_net()
    targets = net(pixels).argmax(dim=1)
    spec = classifiers.ClassifierSpec(architecture="resnet18", num_classes=5)
    mean, std = torch.tensor(spec.mean).view(1, 3, 1, 1).double(), torch.tensor(spec.std).view(1, 3, 1, 1).double()
    # pytorch-grad-cam imputes the model's input, camsweep the pixels; its imputer needs float32 images.
    normalised = ((pixels - mean) / std).float()
    their_net = lambda batch: net(batch.double())  # noqa: E731

    percentages = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    ours = road.road(lambda batch: torch.softmax(net((batch - mean) / std), dim=1), pixels, ranks, targets,
                     percentages=percentages, noise=0.0, batch_size=7)
    their_targets = [ClassifierOutputSoftmaxTarget(int(target)) for target in targets]

    def their_metric(remover):  # ROAD*RelevantFirst with the noise off; their percentile is the share kept
        return lambda kept: PerturbationConfidenceMetric(remover(kept, NoisyLinearImputer(noise=0.0)))

    differences, average_differences = {}, {}
    for name, remover, curves, areas in (("MoRF", RemoveMostRelevantFirst, ours.morf_curves, ours.morf),
                                         ("LeRF", RemoveLeastRelevantFirst, ours.lerf_curves, ours.lerf)):
        theirs = np.stack([their_metric(remover)(100 - p)(normalised, ranks, their_targets, their_net,
                                                          return_diff=False) for p in percentages], axis=1)
        # Their averager reports p_c(imputed) − p_c(image) averaged over the thresholds.
        their_average = AveragerAcrossThresholds(their_metric(remover), [100 - p for p in percentages])(
            normalised, ranks, their_targets, their_net)
        image_probability = torch.softmax(their_net(normalised), dim=1).gather(1, targets[:, None])[:, 0].numpy()
        differences[name] = np.abs(curves - theirs).max()
        average_differences[name] = np.abs(areas - image_probability - their_average).max()
        assert np.ptp(curves) > 0.1  # curves that move, not two flat lines agreeing

    # pytorch-grad-cam works in float32: its input pixels x (then imputed as convex combinations of them),
    # its imputer (2·2^-24·max|x|, see the test above) and its probabilities are rounded, at most 2^-24
    # relative each, so its derived pixels are off by at most 3·2^-24·max|x|. Through the logits' Lipschitz
    # bound L and softmax (|Δp_c| ≤ ½·max_k |Δz_k|): |Δp| ≤ ½·L·3·2^-24·max|x| + 2^-24, plus 1e-12 for
    # float64 round-off. Its averager then subtracts p_c(image) and averages in float32: (P + 2)·2^-24 more.
    bound = 0.5 * logit_lipschitz(net) * 3 * 2.0**-24 * float(normalised.abs().max()) + 2.0**-24 + 1e-12
    average_bound = bound + (len(percentages) + 2) * 2.0**-24
    with capsys.disabled():  # the agreement is part of CI's log
        listed = ", ".join(f"{name} curve {differences[name]:.1e}, area {average_differences[name]:.1e}"
                           for name in differences)
        print(f"\npytorch-grad-cam ROAD agreement (noise 0, 4 images 40×40): max |Δ| {listed}; "
              f"bounds {bound:.1e}, {average_bound:.1e}")
    assert max(differences.values()) <= bound, differences
    assert max(average_differences.values()) <= average_bound, average_differences
