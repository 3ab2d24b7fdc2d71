"""Faithfulness metrics: hand-computed toy cases, agreement with naive loops, properties, degenerate inputs.

Most hand cases use ``mean_model``: p_0 is the mean pixel value (over the channels and a fixed region), p_1 is
1 − p_0. Images are in [0, 1], so that is a probability vector, and every score is plain arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from camsweep import maps as saliency_maps, regions
from camsweep.metrics import faithfulness as faith
from camsweep.metrics import faithfulness_frame


class MeanModel:
    """p_0 = mean of the region's pixels over all channels, p_1 = 1 − p_0; records the batch sizes it sees."""

    def __init__(self, region: np.ndarray | None = None):
        self.region = None if region is None else torch.as_tensor(region, dtype=torch.bool)
        self.batch_sizes: list[int] = []

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(len(batch))
        values = batch if self.region is None else batch[:, :, self.region]
        mean = values.reshape(len(batch), -1).mean(dim=1)
        return torch.stack([mean, 1 - mean], dim=1)


def grey(*rows: list[float]) -> torch.Tensor:
    """One image (1, 3, H, W) with equal channels."""
    return torch.tensor(rows, dtype=torch.float64).expand(1, 3, -1, -1).clone()


def tiny_net(seed: int = 0, classes: int = 5) -> nn.Sequential:
    """A random float64 CNN, logits scaled up so the curves move."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, classes),
        ).double().eval()
        with torch.no_grad():
            net[-1].weight.mul_(20)
    return net.requires_grad_(False)


def tiny_cnn(seed: int = 0, classes: int = 5):
    """:func:`tiny_net` wrapped as a probability function."""
    net = tiny_net(seed, classes)

    @torch.no_grad()
    def probabilities(batch: torch.Tensor) -> torch.Tensor:
        return torch.softmax(net(batch), dim=1)

    return probabilities


def random_case(seed: int, count: int = 3, height: int = 5, width: int = 4, levels: int = 4):
    """Random images, maps with ties (values on a few levels) and targets."""
    rng = np.random.default_rng(seed)
    images = torch.as_tensor(rng.random((count, 3, height, width)))
    maps = rng.integers(0, levels, (count, height, width)).astype(float)
    targets = torch.as_tensor(rng.integers(0, 5, count))
    return images, maps, targets


# ------------------------------------------------------------------------------------------ hand-computed


def test_confidence_change_by_hand():
    # p_0 = mean([1, .5, .25, 0]) = .4375; S = [[1, .5], [0, 0]] so image ⊙ S = [[1, .25], [0, 0]], o_0 = .3125.
    image = grey([1.0, 0.5], [0.25, 0.0]).expand(2, -1, -1, -1)
    saliency = np.array([[[2.0, 1.0], [0.0, 0.0]]] * 2)
    result = faith.confidence_change(MeanModel(), image, saliency, torch.tensor([0, 1]))
    np.testing.assert_allclose(result.probability, [0.4375, 0.5625])
    np.testing.assert_allclose(result.masked_probability, [0.3125, 0.6875])
    np.testing.assert_allclose(result.drop, [0.125 / 0.4375, 0.0])  # class 1 gains confidence: no drop
    np.testing.assert_array_equal(result.increase, [0.0, 1.0])
    assert result.average_drop == pytest.approx(1 / 7) and result.increase_in_confidence == 0.5


IMAGE_2X2 = ([0.8, 0.4], [0.2, 0.0])
MAP_2X2 = np.array([[[0.1, 0.9], [0.5, 0.3]]])  # order: (0, 1), (1, 0), (1, 1), (0, 0)


def test_deletion_by_hand_one_pixel_per_step():
    model = MeanModel()
    result = faith.deletion(model, grey(*IMAGE_2X2), MAP_2X2, torch.tensor([0]), steps=4, canvas="constant")
    np.testing.assert_allclose(result.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(result.curves[0], [0.35, 0.25, 0.2, 0.2, 0.0])
    assert result.auc[0] == pytest.approx(0.25 * (0.3 + 0.225 + 0.2 + 0.1))  # 0.20625
    assert sum(model.batch_sizes) == 5


def test_insertion_by_hand_on_a_grey_canvas():
    result = faith.insertion(MeanModel(), grey(*IMAGE_2X2), MAP_2X2, torch.tensor([0]), steps=4,
                             canvas="constant", constant=0.5)
    np.testing.assert_allclose(result.curves[0], [0.5, 0.475, 0.4, 0.275, 0.35])
    assert result.auc[0] == pytest.approx(0.25 * (0.4875 + 0.4375 + 0.3375 + 0.3125))  # 0.39375


def test_steps_that_do_not_divide_the_pixels_end_early_and_repeat_the_last_point():
    # 4 pixels, 3 steps: ceil(4 / 3) = 2 pixels a step, so 0, 2, 4, 4 pixels deleted.
    model = MeanModel()
    result = faith.deletion(model, grey(*IMAGE_2X2), MAP_2X2, torch.tensor([0]), steps=3)
    np.testing.assert_allclose(result.fractions, [0, 0.5, 1, 1])
    np.testing.assert_allclose(result.curves[0], [0.35, 0.2, 0.0, 0.0])
    assert result.auc[0] == pytest.approx(0.5 * (0.275 + 0.1))
    assert sum(model.batch_sizes) == 3  # the repeated 100 % point is not evaluated again


def test_more_steps_than_pixels_is_one_pixel_per_step():
    model = MeanModel()
    result = faith.deletion(model, grey(*IMAGE_2X2), MAP_2X2, torch.tensor([0]), steps=10)
    assert result.curves.shape == (1, 11)
    np.testing.assert_allclose(result.curves[0], [0.35, 0.25, 0.2, 0.2] + [0.0] * 7)
    np.testing.assert_allclose(result.fractions, [0, 0.25, 0.5, 0.75] + [1.0] * 7)
    assert result.auc[0] == pytest.approx(0.20625)
    assert sum(model.batch_sizes) == 5


def test_insertion_on_the_blurred_canvas_by_hand():
    # 1×3 image [0, 1, 0], 3 taps with σ = 1: weights (a, 1, a) / (1 + 2a), a = e^(−1/2). The model reads pixel
    # 0, whose blurred value is a / (1 + 2a) (replicated border: the left tap sees pixel 0 itself, 0).
    # The order puts pixel 0 last, so it reads the canvas until the final step.
    a = math.exp(-0.5)
    blurred = a / (1 + 2 * a)
    model = MeanModel(region=np.array([[True, False, False]]))
    result = faith.insertion(model, grey([0.0, 1.0, 0.0]), np.array([[[0.0, 1.0, 0.5]]]), torch.tensor([0]),
                             steps=3, blur_kernel_size=3, blur_sigma=1.0)
    np.testing.assert_allclose(result.curves[0], [blurred, blurred, blurred, 0.0])
    assert result.auc[0] == pytest.approx(2.5 * blurred / 3)


def test_gaussian_blur_matches_scipy_with_nearest_borders():
    images = torch.as_tensor(np.random.default_rng(0).random((2, 3, 7, 9)))
    for taps, sigma in [(11, 5.0), (3, 1.0), (5, 0.7)]:
        expected = scipy.ndimage.gaussian_filter(images.numpy(), sigma=(0, 0, sigma, sigma), radius=(0, 0, taps // 2,
                                                 taps // 2), mode="nearest")
        np.testing.assert_allclose(faith.gaussian_blur(images, taps, sigma).numpy(), expected, atol=1e-12)


def test_saliency_metric_by_hand():
    # 5×5 image: top-left 2×2 block 0.8, the rest 0.1; the model reads the mean of the whole image.
    image = torch.full((1, 3, 5, 5), 0.1, dtype=torch.float64)
    image[:, :, :2, :2] = 0.8
    boxes = np.array([[0, 0, 1, 1], [4, 4, 4, 4], [0, 0, 4, 4], regions.NO_BOX])
    model = MeanModel()
    result = faith.saliency_metric(model, image.expand(4, -1, -1, -1), boxes, torch.zeros(4, dtype=torch.long))
    whole = (4 * 0.8 + 21 * 0.1) / 25
    np.testing.assert_allclose(result.area_fraction[:3], [4 / 25, 1 / 25, 1.0])
    np.testing.assert_allclose(result.crop_probability[:3], [0.8, 0.1, whole])
    np.testing.assert_allclose(result.score[:3], [math.log(0.16 / 0.8), math.log(0.05 / 0.1), -math.log(whole)])
    assert np.isnan([result.score[3], result.area_fraction[3], result.crop_probability[3]]).all()
    assert sum(model.batch_sizes) == 3  # the empty box costs no forward


# ------------------------------------------------------------------------------- agreement with naive loops


def naive_curve(probabilities, image, saliency, target, steps, canvas_image, insert):
    """One image, one step at a time, pixels copied one by one in a Python-sorted order."""
    height, width = saliency.shape
    pixels = height * width
    normalised = saliency_maps.normalise(saliency).reshape(-1)
    order = sorted(range(pixels), key=lambda p: (-normalised[p], p))
    per_step = math.ceil(pixels / steps)
    start, finish = (canvas_image, image) if insert else (image, canvas_image)
    values, fractions = [], []
    for step in range(steps + 1):
        current = start.clone()
        for pixel in order[: min(step * per_step, pixels)]:
            row, column = divmod(pixel, width)
            current[:, row, column] = finish[:, row, column]
        values.append(float(probabilities(current[None])[0, target]))
        fractions.append(min(step * per_step, pixels) / pixels)
    area = sum((fractions[j + 1] - fractions[j]) * (values[j] + values[j + 1]) / 2 for j in range(steps))
    return np.array(values), area


def naive_canvas(image, canvas, constant, taps, sigma):
    if canvas == "constant":
        return torch.as_tensor(constant, dtype=image.dtype).reshape(-1, 1, 1).expand_as(image).clone()
    blurred = scipy.ndimage.gaussian_filter(image.numpy(), sigma=(0, sigma, sigma), radius=(0, taps // 2, taps // 2),
                                            mode="nearest")
    return torch.as_tensor(blurred)


@pytest.mark.parametrize("batch_size", [1, 1000])
@pytest.mark.parametrize(
    "canvas, constant, taps, sigma",
    [("blurred", 0.0, 11, 5.0), ("blurred", 0.0, 3, 1.0), ("constant", (0.2, 0.5, 0.9), 11, 5.0)],
)
@pytest.mark.parametrize("steps", [1, 3, 7, 30])
def test_insertion_and_deletion_agree_with_a_naive_loop(batch_size, canvas, constant, taps, sigma, steps):
    images, maps, targets = random_case(seed=steps)
    probabilities = tiny_cnn()
    options = dict(steps=steps, canvas=canvas, constant=constant, blur_kernel_size=taps, blur_sigma=sigma,
                   batch_size=batch_size)
    for metric, insert in [(faith.insertion, True), (faith.deletion, False)]:
        result = metric(probabilities, images, maps, targets, **options)
        for i in range(len(images)):
            canvas_image = naive_canvas(images[i], canvas, constant, taps, sigma)
            curve, area = naive_curve(probabilities, images[i], maps[i], int(targets[i]), steps, canvas_image, insert)
            np.testing.assert_allclose(result.curves[i], curve, atol=1e-6)
            assert result.auc[i] == pytest.approx(area, abs=1e-6)


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_confidence_change_agrees_with_a_naive_loop(batch_size):
    images, maps, targets = random_case(seed=5, count=5)
    probabilities = tiny_cnn(seed=1)
    result = faith.confidence_change(probabilities, images, torch.as_tensor(maps), targets, batch_size=batch_size)
    for i in range(len(images)):
        weight = torch.as_tensor(saliency_maps.normalise(maps[i]))
        p = float(probabilities(images[i][None])[0, targets[i]])
        o = float(probabilities((images[i] * weight)[None])[0, targets[i]])
        assert result.drop[i] == pytest.approx(max(0.0, p - o) / p, abs=1e-6)
        assert result.increase[i] == float(o > p)


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_saliency_metric_agrees_with_per_image_crops(batch_size):
    rng = np.random.default_rng(3)
    images = torch.as_tensor(rng.random((6, 3, 7, 9)))
    corners = np.sort(rng.integers(0, [[9, 7, 9, 7]], (6, 4)).reshape(6, 2, 2), axis=1)  # sorted x's and y's
    boxes = np.stack([corners[:, 0, 0], corners[:, 0, 1], corners[:, 1, 0], corners[:, 1, 1]], axis=1)
    boxes[0] = [0, 0, 8, 6]  # whole image
    targets = torch.as_tensor(rng.integers(0, 5, 6))
    probabilities = tiny_cnn(seed=2)
    result = faith.saliency_metric(probabilities, images, boxes, targets, batch_size=batch_size)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        crop = F.interpolate(images[i : i + 1, :, y0 : y1 + 1, x0 : x1 + 1], size=(7, 9), mode="bilinear",
                             align_corners=False)
        np.testing.assert_allclose(faith.crop_and_resize(images[i : i + 1], torch.as_tensor(boxes[i : i + 1])), crop,
                                   atol=1e-9)
        probability = float(probabilities(crop)[0, targets[i]])
        area = (x1 - x0 + 1) * (y1 - y0 + 1) / 63
        assert result.score[i] == pytest.approx(math.log(max(area, 0.05)) - math.log(probability), abs=1e-6)


# -------------------------------------------------------------------------------------------- properties

SMALL_MAPS = hnp.arrays(np.float64, st.tuples(st.just(2), st.integers(2, 5), st.integers(2, 5)),
                        elements=st.floats(-5, 5, allow_nan=False))
PROPERTY_MODEL = tiny_cnn(seed=4)


def images_like(saliency: np.ndarray, seed: int) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).random((len(saliency), 3, *saliency.shape[1:])))


@settings(max_examples=15, deadline=None)
@given(SMALL_MAPS, st.integers(1, 30), st.integers(0, 2**16))
def test_scores_stay_in_their_ranges(saliency, steps, seed):
    images, targets = images_like(saliency, seed), torch.tensor([seed % 5, (seed // 5) % 5])
    for metric in (faith.insertion, faith.deletion):
        auc = metric(PROPERTY_MODEL, images, saliency, targets, steps=steps, blur_kernel_size=3, blur_sigma=1.0).auc
        assert ((auc >= 0) & (auc <= 1)).all()
    drop = faith.confidence_change(PROPERTY_MODEL, images, saliency, targets).drop
    assert ((drop >= 0) & (drop <= 1)).all()


@settings(max_examples=15, deadline=None)
@given(
    hnp.arrays(np.int64, st.tuples(st.just(2), st.integers(2, 5), st.integers(2, 5)), elements=st.integers(0, 6)),
    st.floats(1e-3, 1e3), st.integers(1, 12), st.integers(0, 2**16),
)
def test_positive_scaling_of_the_map_changes_nothing(levels, scale, steps, seed):
    saliency = levels.astype(np.float64)  # integer levels: scaling keeps every tie and every strict order
    images, targets = images_like(saliency, seed), torch.tensor([1, 3])
    for metric in (faith.insertion, faith.deletion):
        plain = metric(PROPERTY_MODEL, images, saliency, targets, steps=steps)
        scaled = metric(PROPERTY_MODEL, images, scale * saliency, targets, steps=steps)
        np.testing.assert_array_equal(plain.curves, scaled.curves)
    plain = faith.confidence_change(PROPERTY_MODEL, images, saliency, targets)
    scaled = faith.confidence_change(PROPERTY_MODEL, images, scale * saliency, targets)
    np.testing.assert_allclose(plain.drop, scaled.drop, atol=1e-12)


# ------------------------------------------------------------------------------------------- degenerate


def test_ties_are_broken_by_row_major_index():
    ranks = faith.saliency_ranks(faith.normalise_maps(np.array([[[1.0, 2.0, 1.0], [2.0, 1.0, 2.0]]])))
    assert ranks.tolist() == [[3, 0, 4, 1, 5, 2]]


@pytest.mark.parametrize("value", [0.0, 3.7])
def test_a_constant_map_is_scored_in_row_major_order_and_masks_to_black(value):
    images, _, targets = random_case(seed=9, count=2, height=3, width=3)
    constant_map = np.full((2, 3, 3), value)
    row_major = np.broadcast_to(-np.arange(9.0).reshape(3, 3), (2, 3, 3))  # strictly decreasing in flat index
    probabilities = tiny_cnn()
    for metric in (faith.insertion, faith.deletion):
        np.testing.assert_array_equal(metric(probabilities, images, constant_map, targets, steps=4).curves,
                                      metric(probabilities, images, row_major, targets, steps=4).curves)
    result = faith.confidence_change(MeanModel(), images, constant_map, torch.tensor([0, 1]))
    np.testing.assert_array_equal(result.masked_probability, [0.0, 1.0])  # the black image
    np.testing.assert_array_equal(result.drop, [1.0, 0.0])
    np.testing.assert_array_equal(result.increase, [0.0, 1.0])


def test_a_nan_map_is_an_error():
    images, maps, targets = random_case(seed=0)
    maps[1, 2, 3] = np.nan
    for metric in (faith.insertion, faith.deletion, faith.confidence_change):
        with pytest.raises(ValueError, match="saliency map contains NaN"):
            metric(tiny_cnn(), images, maps, targets)


def test_mismatched_lengths_name_the_argument():
    images, maps, targets = random_case(seed=0, count=3)
    probabilities = tiny_cnn()
    for metric in (faith.insertion, faith.deletion, faith.confidence_change):
        with pytest.raises(ValueError, match="maps has 2 entries but images has 3"):
            metric(probabilities, images, maps[:2], targets)
        with pytest.raises(ValueError, match="targets has 4 entries but images has 3"):
            metric(probabilities, images, maps, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="boxes has 1 entries but images has 3"):
        faith.saliency_metric(probabilities, images, np.array([[0, 0, 1, 1]]), targets)
    with pytest.raises(ValueError, match="targets has 2 entries"):
        faith.saliency_metric(probabilities, images, np.zeros((3, 4), int), targets[:2])


def test_other_bad_inputs_are_errors():
    images, maps, targets = random_case(seed=0)
    model = tiny_cnn()
    cases = [
        (lambda: faith.deletion(model, images, maps[:, :3], targets), "image resolution"),
        (lambda: faith.deletion(model, images * 2, maps, targets), r"\[0, 1\]"),
        (lambda: faith.deletion(model, images, maps, targets + 5), "out of range"),
        (lambda: faith.deletion(model, images, maps, targets.double()), "integer class indices"),
        (lambda: faith.deletion(model, images, maps, targets, steps=0), "steps must be a positive integer"),
        (lambda: faith.deletion(model, images, maps, targets, batch_size=0), "batch_size"),
        (lambda: faith.deletion(model, images, maps, targets, canvas="noise"), "unknown canvas"),
        (lambda: faith.insertion(model, images, maps, targets, blur_kernel_size=4), "odd"),
        (lambda: faith.insertion(model, images, maps, targets, blur_sigma=0), "blur_sigma"),
        (lambda: faith.saliency_metric(model, images, np.array([[2, 0, 1, 1]] * 3), targets), "inclusive"),
        (lambda: faith.saliency_metric(model, images, np.array([[0, 0, 4, 1]] * 3), targets), "inclusive"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_no_images_means_no_forwards():
    model = MeanModel()
    empty_images, empty_maps = torch.zeros(0, 3, 4, 4), np.zeros((0, 4, 4))
    empty_targets = torch.zeros(0, dtype=torch.long)
    assert faith.insertion(model, empty_images, empty_maps, empty_targets, steps=4).curves.shape == (0, 5)
    assert faith.confidence_change(model, empty_images, empty_maps, empty_targets).drop.shape == (0,)
    assert faith.saliency_metric(model, empty_images, np.zeros((0, 4), int), empty_targets).score.shape == (0,)
    assert model.batch_sizes == []


def test_preprocess_is_unit_range_then_normalise_bit_for_bit():
    from camsweep.models import classifiers

    spec = classifiers.ClassifierSpec(architecture="resnet18", num_classes=3)
    images = np.random.default_rng(0).integers(0, 256, (2, 9, 7, 3), dtype=np.uint8)
    pixels = classifiers.unit_range(images)
    assert torch.equal(pixels, torch.as_tensor(images).permute(0, 3, 1, 2).float().div(255.0))
    by_hand = (pixels - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    assert torch.equal(classifiers.preprocess(images, spec), by_hand)
    assert torch.equal(classifiers.normalise(pixels, spec), by_hand)


def test_per_image_scores_frame(shapes_split):
    from camsweep.metrics.localisation import LocalisationSettings
    from camsweep.models import classifiers

    torch.manual_seed(0)
    spec = classifiers.ClassifierSpec(architecture="resnet18", num_classes=3, stem="compact")
    model = classifiers.build(spec).eval()
    split = shapes_split.subset(np.arange(3))
    maps = {"layer4": np.random.default_rng(0).random((3, 3, 3), dtype=np.float32), "targets": np.array([0, 1, 2])}
    options = {"steps": 4, "batch_size": 2, "insertion_canvas": "blurred", "deletion_canvas": "constant",
               "road": {"percentages": [20, 80], "noise": 0.01}}
    frame = faithfulness_frame.per_image_scores(model, spec, split.images, maps, split.ids, ["layer4"], options,
                                          LocalisationSettings(), seed=0)
    assert list(frame.columns) == ["id", "layer", "target", "average_drop", "increase_in_confidence", "insertion_auc",
                                   "deletion_auc", "saliency_metric", "road_morf", "road_lerf", "road_gap"]
    assert frame["id"].tolist() == split.ids.astype(str).tolist() and frame["target"].tolist() == [0, 1, 2]
    assert frame["insertion_auc"].between(0, 1).all() and frame[["road_morf", "road_lerf"]].stack().between(0, 1).all()
    np.testing.assert_allclose(frame["road_gap"], frame["road_lerf"] - frame["road_morf"])
    empty = faithfulness_frame.per_image_scores(model, spec, split.images, maps, split.ids, [], options, LocalisationSettings(),
                                   seed=0)
    assert list(empty.columns) == list(frame.columns) and empty.empty
