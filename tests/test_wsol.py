"""WSOL metrics (BoxAcc, MaxBoxAccV2, PxAP): hand-computed cases, agreement with a literal per-threshold
re-implementation of the published definitions, degenerate inputs and invariances."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import average_precision_score

from camsweep import maps as saliency_maps, regions
from camsweep.metrics import wsol

NO_BOX = regions.NO_BOX.tolist()


# --- literal re-implementations of the published definitions (a different code path on purpose) ---------


def inclusive_iou(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0]) + 1
    height = min(a[3], b[3]) - max(a[1], b[1]) + 1
    intersection = max(width, 0) * max(height, 0)
    union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - intersection
    return intersection / union


def reference_best_iou(maps, boxes, thresholds):
    """Per map and threshold: findContours (RETR_TREE, every point kept) on s ≥ τ, boundingRect per contour."""
    rows = []
    for saliency, box in zip(maps, boxes, strict=True):
        box = [int(v) for v in box]
        if box == NO_BOX:
            rows.append([np.nan] * len(thresholds))
            continue
        normalised = saliency_maps.normalise(saliency[None])[0]
        row = []
        for threshold in thresholds:
            best = 0.0
            if normalised.max() > 0:  # a constant map localises nothing
                binary = (normalised >= threshold).astype(np.uint8)
                contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)[0]
                for contour in contours:
                    x, y, w, h = cv2.boundingRect(contour)
                    best = max(best, inclusive_iou((x, y, x + w - 1, y + h - 1), box))
            row.append(best)
        rows.append(row)
    return np.array(rows, dtype=float).reshape(len(maps), len(thresholds))


def reference_pxap(maps, masks, thresholds):
    """Pool the pixels of images with a non-empty mask; per threshold (grid plus 1.0, from the top) count
    TP and predictions by scanning every pixel; sum precision × recall step."""
    keep = masks.any(axis=(1, 2))
    scores = saliency_maps.normalise(maps[keep]).ravel()
    truth = masks[keep].ravel()
    average_precision, previous_recall = 0.0, 0.0
    for threshold in sorted(set(thresholds) | {1.0}, reverse=True):
        predicted = scores >= threshold
        if not predicted.any():
            continue
        recall = (predicted & truth).sum() / truth.sum()
        average_precision += (predicted & truth).sum() / predicted.sum() * (recall - previous_recall)
        previous_recall = recall
    return average_precision


def smooth_maps(rng, count, shape):
    return np.stack([cv2.GaussianBlur(rng.random(shape), (0, 0), rng.uniform(0.7, 4)) for _ in range(count)])


def random_boxes(rng, count, shape):
    height, width = shape
    xs = np.sort(rng.integers(0, width, (count, 2)), axis=1)
    ys = np.sort(rng.integers(0, height, (count, 2)), axis=1)
    return np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)


def varied_maps(rng, shape=(24, 32)):
    """Smooth maps, raw noise (many contours and holes), coarse quantised maps (repeated values, so some
    thresholds leave the on-set unchanged) and maps whose values sit exactly on the threshold grid."""
    height, width = shape
    smooth = smooth_maps(rng, 6, shape)
    noise = rng.random((3, height, width))
    coarse = np.stack([cv2.resize(rng.integers(0, 5, (4, 5)).astype(float), (width, height),
                                  interpolation=cv2.INTER_NEAREST) for _ in range(3)])
    on_grid = np.append(wsol.threshold_grid(), 1.0)[rng.integers(0, 101, (3, height, width))]
    on_grid[:, 0, 0], on_grid[:, 0, 1] = 0.0, 1.0  # normalisation leaves grid values unchanged
    return np.concatenate([smooth, noise, coarse, on_grid])


# --- hand-computed cases ----------------------------------------------------------------------------------


def two_blob_map():
    """6×8 map. Blob A: core 1.0 at rows 1–2 × cols 1–2 and a 0.3 skirt at row 3 × cols 1–2 (box with
    skirt (1, 1, 2, 3), core (1, 1, 2, 2)). Blob B: 0.6 at rows 2–4 × cols 5–6, box (5, 2, 6, 4)."""
    saliency = np.zeros((6, 8))
    saliency[1:3, 1:3] = 1.0
    saliency[3, 1:3] = 0.3
    saliency[2:5, 5:7] = 0.6
    return saliency


HAND_THRESHOLDS = np.array([0.0, 0.2, 0.3, 0.5, 0.7, 1.0])


def test_two_blobs_best_iou_by_hand():
    boxes = np.array([[1, 1, 2, 3],  # exactly blob A with its skirt (6 px)
                      [4, 2, 6, 5]])  # 3×4 = 12 px holding blob B (6 px)
    best = wsol.best_box_iou(np.stack([two_blob_map()] * 2), boxes, HAND_THRESHOLDS)
    # τ = 0: every pixel is on, box = whole image (48 px). τ = 0.3: the skirt is on (s ≥ τ, inclusive).
    # τ ≥ 0.5: A's core only (4 px inside the 6 px GT); τ ≥ 0.7: blob B is off too.
    np.testing.assert_allclose(best[0], [6 / 48, 1, 1, 4 / 6, 4 / 6, 4 / 6], rtol=0, atol=1e-15)
    np.testing.assert_allclose(best[1], [12 / 48, 6 / 12, 6 / 12, 6 / 12, 0, 0], rtol=0, atol=1e-15)

    np.testing.assert_allclose(wsol.box_accuracy(best, 0.5), [0, 1, 1, 1, 0.5, 0.5])
    np.testing.assert_allclose(wsol.box_accuracy(best, 0.7), [0, 0.5, 0.5, 0, 0, 0])
    assert wsol.max_box_acc(best, 0.3) == 1.0 and wsol.max_box_acc(best, 0.7) == 0.5
    result = wsol.max_box_acc_v2(np.stack([two_blob_map()] * 2), boxes, HAND_THRESHOLDS)
    assert result.max_box_acc == (1.0, 1.0, 0.5)
    assert result.best_thresholds == (0.2, 0.2, 0.2)  # the lowest τ attaining the maximum
    assert result.value == pytest.approx(2.5 / 3)
    assert (result.n_scored, result.n_excluded) == (2, 0)


def test_per_image_box_acc_by_hand():
    maps = np.stack([two_blob_map()] * 3)
    boxes = np.array([[1, 1, 2, 3], [4, 2, 6, 5], NO_BOX])
    np.testing.assert_array_equal(wsol.box_acc(maps, boxes, threshold=0.5, delta=0.5), [1, 1, np.nan])
    np.testing.assert_array_equal(wsol.box_acc(maps, boxes, threshold=0.7, delta=0.5), [1, 0, np.nan])
    np.testing.assert_array_equal(wsol.box_acc(maps, boxes, threshold=0.5, delta=0.7), [0, 0, np.nan])


def ring_map():
    """9×9: a ring two pixels thick (rows/cols 1–7) around a 3×3 hole (rows/cols 3–5) with one on-pixel
    in its middle. Outer box (1, 1, 7, 7), 49 px; the hole's contour runs along the ring's inner pixels,
    box (2, 2, 6, 6), 25 px; the island's box is (4, 4, 4, 4)."""
    saliency = np.zeros((9, 9))
    saliency[1:8, 1:8] = 1.0
    saliency[3:6, 3:6] = 0.0
    saliency[4, 4] = 1.0
    return saliency


def test_hole_contours_count():
    boxes = np.array([[2, 2, 6, 6], [3, 3, 5, 5], [4, 4, 4, 4], [1, 1, 7, 7]])
    best = wsol.best_box_iou(np.stack([ring_map()] * 4), boxes, np.array([0.5]))[:, 0]
    # Outer contours alone would give 25/49, 9/49, 1/49 and 1 for the first three GT boxes' best match.
    np.testing.assert_allclose(best, [1.0, 9 / 25, 1.0, 1.0])


def test_pxap_two_images_by_hand():
    maps = np.array([[[1.0, 0.5], [0.5, 0.0]],
                     [[0.0, 1.0], [0.5, 0.0]],
                     [[0.3, 0.9], [0.1, 0.2]]])  # third image: empty mask, left out
    masks = np.array([[[1, 0], [1, 0]],
                      [[0, 0], [1, 1]],
                      [[0, 0], [0, 0]]], dtype=bool)
    # Positives score 1, .5, .5, 0; negatives .5, 0, 0, 1 (P = 4).
    # τ = 1: TP 1, FP 1 → P .5, R .25;  τ = .5: TP 3, FP 2 → P .6, R .75;  τ = 0: TP 4, FP 4 → P .5, R 1.
    # PxAP = .5·.25 + .6·(.75 − .25) + .5·(1 − .75) = .55
    result = wsol.pxap(maps, masks, np.array([0.0, 0.5]))
    assert result.value == pytest.approx(0.55, abs=1e-15)
    np.testing.assert_array_equal(result.thresholds, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(result.precision, [0.5, 0.6, 0.5])
    np.testing.assert_allclose(result.recall, [1.0, 0.75, 0.25])
    assert (result.n_scored, result.n_excluded) == (2, 1)
    # The fine default grid adds thresholds that change no count: same PxAP.
    assert wsol.pxap(maps, masks).value == pytest.approx(0.55, abs=1e-15)


def test_box_iou_inclusive_coordinates():
    boxes_a = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 3, 0], NO_BOX, NO_BOX])
    boxes_b = np.array([[0, 0, 1, 1], [1, 1, 2, 2], [2, 0, 3, 1], [3, 0, 3, 0], [0, 0, 1, 1], NO_BOX])
    # Same box; one shared pixel (4 + 4 − 1); touching, no overlap; 1 px within 4; empty; both empty.
    np.testing.assert_array_equal(wsol.box_iou(boxes_a, boxes_b), [1, 1 / 7, 0, 1 / 4, 0, np.nan])


def test_box_accuracy_skips_undefined_rows():
    best = np.array([[0.2, 0.6], [np.nan, np.nan], [0.5, 0.4]])
    np.testing.assert_allclose(wsol.box_accuracy(best, 0.5), [0.5, 0.5])
    assert wsol.max_box_acc(best, 0.5) == 0.5
    assert np.isnan(wsol.box_accuracy(best[1:2], 0.5)).all() and np.isnan(wsol.max_box_acc(best[1:2], 0.5))


def test_threshold_grid():
    grid = wsol.threshold_grid()
    np.testing.assert_array_equal(grid, np.arange(100) / 100)  # each τ the double nearest its decimal
    assert grid[7] == 0.07 and grid[-1] == 0.99
    assert len(wsol.threshold_grid(0.1)) == 10 and len(wsol.threshold_grid(1.0)) == 1
    with pytest.raises(ValueError):
        wsol.threshold_grid(0.0)


# --- agreement with the literal re-implementation -----------------------------------------------------


def test_best_iou_matches_reference_on_random_maps():
    rng = np.random.default_rng(7)
    maps = varied_maps(rng)
    boxes = random_boxes(rng, len(maps), maps.shape[1:])
    boxes[4] = NO_BOX
    thresholds = wsol.threshold_grid()
    ours = wsol.best_box_iou(maps, boxes, thresholds)
    np.testing.assert_array_equal(ours, reference_best_iou(maps, boxes, thresholds))

    result = wsol.max_box_acc_v2(maps, boxes)
    for delta, value in zip(result.deltas, result.max_box_acc, strict=True):
        assert value == wsol.max_box_acc(ours, delta)
    assert result.value == pytest.approx(np.mean(result.max_box_acc), abs=1e-15)
    assert (result.n_scored, result.n_excluded) == (len(maps) - 1, 1)
    # The per-image BoxAcc averages to the dataset's BoxAcc at that τ.
    per_image = wsol.box_acc(maps, boxes, threshold=thresholds[40], delta=0.5)
    assert np.nanmean(per_image) == pytest.approx(wsol.box_accuracy(ours, 0.5)[40], abs=1e-15)


def test_best_iou_matches_reference_on_a_coarse_custom_grid():
    rng = np.random.default_rng(8)
    maps = varied_maps(rng, (17, 13))
    boxes = random_boxes(rng, len(maps), maps.shape[1:])
    thresholds = np.array([0.0, 0.05, 0.3, 0.31, 0.5, 0.77, 1.0])
    np.testing.assert_array_equal(wsol.best_box_iou(maps, boxes, thresholds),
                                  reference_best_iou(maps, boxes, thresholds))


def test_pxap_matches_reference_on_random_maps():
    rng = np.random.default_rng(9)
    maps = varied_maps(rng)
    objects = smooth_maps(rng, len(maps), maps.shape[1:])
    masks = objects > np.quantile(objects, 0.6, axis=(1, 2), keepdims=True)
    masks[2] = False  # an empty mask: left out of both
    for thresholds in (wsol.threshold_grid(), wsol.threshold_grid(0.07), np.array([0.0, 0.33, 0.9])):
        result = wsol.pxap(maps, masks, thresholds)
        assert result.value == pytest.approx(reference_pxap(maps, masks, thresholds), abs=1e-12)
        assert result.n_excluded == 1


def test_pxap_equals_average_precision_when_scores_sit_on_the_grid():
    # With every score on the grid, the grid holds every distinct score, so PxAP is scikit-learn's AP.
    rng = np.random.default_rng(10)
    maps = np.append(wsol.threshold_grid(), 1.0)[rng.integers(0, 101, (5, 12, 10))]
    maps[:, 0, 0], maps[:, 0, 1] = 0.0, 1.0  # normalisation leaves grid values unchanged
    masks = rng.random(maps.shape) < maps * 0.8
    expected = average_precision_score(masks.ravel(), maps.ravel())
    assert wsol.pxap(maps, masks).value == pytest.approx(expected, abs=1e-12)


def test_contour_boxes_are_components_and_grown_holes():
    """The module's description of RETR_TREE contours: outer contours bound the 8-connected components;
    hole contours bound the enclosed 4-connected background regions grown by one pixel."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        height, width = rng.integers(1, 14, 2)
        binary = (rng.random((height, width)) < rng.uniform(0.3, 0.9)).astype(np.uint8)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        from_contours = sorted((x, y, x + w - 1, y + h - 1) for x, y, w, h in map(cv2.boundingRect, contours))
        count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        expected = [(x, y, x + w - 1, y + h - 1) for x, y, w, h, _ in stats[1:count]]
        # Pad with background so that everything reaching the image edge joins one outside region.
        count, labels, stats, _ = cv2.connectedComponentsWithStats(np.pad(1 - binary, 1, constant_values=1),
                                                                   connectivity=4)
        for label in range(1, count):
            if label != labels[0, 0]:
                x, y, w, h, _ = stats[label]
                expected.append((x - 2, y - 2, x + w - 1, y + h - 1))  # −1 for the padding, ∓1 for growing
        assert from_contours == sorted(expected)


# --- degenerate inputs ------------------------------------------------------------------------------------


def test_empty_ground_truth_is_excluded_and_counted():
    rng = np.random.default_rng(12)
    maps = smooth_maps(rng, 4, (10, 12))
    boxes = random_boxes(rng, 4, (10, 12))
    with_empty = np.concatenate([boxes, [NO_BOX]])
    maps_with_empty = np.concatenate([maps, maps[:1]])
    best = wsol.best_box_iou(maps_with_empty, with_empty)
    assert np.isnan(best[4]).all() and not np.isnan(best[:4]).any()
    assert np.isnan(wsol.box_acc(maps_with_empty, with_empty, 0.5, 0.5)[4])
    result, clean = wsol.max_box_acc_v2(maps_with_empty, with_empty), wsol.max_box_acc_v2(maps, boxes)
    assert result.value == clean.value and (result.n_scored, result.n_excluded) == (4, 1)

    only_empty = wsol.max_box_acc_v2(maps[:1], np.array([NO_BOX]))
    assert np.isnan(only_empty.value) and (only_empty.n_scored, only_empty.n_excluded) == (0, 1)
    nothing = wsol.pxap(maps, np.zeros(maps.shape, bool))
    assert np.isnan(nothing.value) and np.isnan(nothing.recall).all() and nothing.n_excluded == 4


def test_empty_dataset():
    empty_maps, empty_boxes = np.zeros((0, 5, 5)), np.zeros((0, 4), int)
    assert wsol.best_box_iou(empty_maps, empty_boxes).shape == (0, 100)
    assert np.isnan(wsol.max_box_acc_v2(empty_maps, empty_boxes).value)
    assert np.isnan(wsol.pxap(empty_maps, np.zeros((0, 5, 5), bool)).value)


def test_full_image_ground_truth():
    rng = np.random.default_rng(13)
    maps = smooth_maps(rng, 3, (8, 9))
    full = np.tile([0, 0, 8, 7], (3, 1))
    best = wsol.best_box_iou(maps, full)
    assert (best[:, 0] == 1.0).all()  # at τ = 0 the whole image is on
    assert wsol.max_box_acc_v2(maps, full).value == 1.0
    assert wsol.pxap(maps, np.ones(maps.shape, bool)).value == 1.0  # precision is 1 at every threshold


@pytest.mark.parametrize("value", [0.0, 3.5, -2.0])
def test_constant_map_is_never_a_hit(value):
    maps = np.full((2, 6, 7), value)
    boxes = np.array([[0, 0, 6, 5], [2, 1, 4, 3]])  # the full image, and a box inside
    np.testing.assert_array_equal(wsol.best_box_iou(maps, boxes), np.zeros((2, 100)))
    np.testing.assert_array_equal(wsol.box_acc(maps, boxes, threshold=0.0, delta=0.3), [0, 0])
    assert wsol.max_box_acc_v2(maps, boxes).value == 0.0
    # In PxAP its pixels score 0: predicted only at τ = 0, where precision is the positive share.
    result = wsol.pxap(maps, regions.boxes_to_masks(boxes, (6, 7)))
    assert result.value == pytest.approx(51 / 84)  # two images: 42 + 9 positives among 84 pixels
    assert np.isnan(result.precision[1:]).all()


def test_single_pixel_inputs():
    one = np.ones((1, 1, 1))
    assert wsol.best_box_iou(one, np.array([[0, 0, 0, 0]]))[0, 0] == 0.0  # a 1×1 map is constant
    assert wsol.pxap(one, np.ones((1, 1, 1), bool)).value == 1.0  # every pixel positive
    assert np.isnan(wsol.pxap(one, np.zeros((1, 1, 1), bool)).value)
    peak = np.zeros((1, 5, 5))
    peak[0, 3, 1] = 2.0
    best = wsol.best_box_iou(peak, np.array([[1, 3, 1, 3]]))[0]
    assert best[0] == 1 / 25 and (best[1:] == 1.0).all()


def test_nan_map_raises():
    maps = np.zeros((2, 4, 4))
    maps[1, 2, 2] = np.nan
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match="NaN"):
        wsol.best_box_iou(maps, boxes)
    with pytest.raises(ValueError, match="NaN"):
        wsol.max_box_acc_v2(maps, boxes)
    with pytest.raises(ValueError, match="NaN"):
        wsol.pxap(maps, np.ones(maps.shape, bool))


def test_malformed_inputs_raise():
    maps = np.zeros((1, 4, 5))
    for bad_box in ([0, 0, 5, 3], [2, 0, 1, 3], [-1, 0, 2, 2]):
        with pytest.raises(ValueError, match="box"):
            wsol.best_box_iou(maps, np.array([bad_box]))
    with pytest.raises(ValueError, match="boxes must be"):
        wsol.best_box_iou(maps, np.zeros((2, 4), int))
    for bad_grid in ([0.5, 0.5], [0.2, 0.1], [-0.1, 0.5], [0.5, 1.5], []):
        with pytest.raises(ValueError, match="thresholds"):
            wsol.best_box_iou(maps, np.array([[0, 0, 1, 1]]), np.array(bad_grid))
    with pytest.raises(ValueError, match="same shape"):
        wsol.pxap(maps, np.zeros((1, 5, 4), bool))
    with pytest.raises(ValueError, match="maps must be"):
        wsol.pxap(np.zeros((4, 5)), np.zeros((4, 5), bool))


# --- invariance ------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    integer_maps=hnp.arrays(np.int64, (2, 5, 6), elements=st.integers(-20, 20)),
    exponent=st.integers(-30, 30),
    box=st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(3, 5), st.integers(2, 4)),
)
def test_positive_scaling_changes_nothing(integer_maps, exponent, box):
    # Powers of two scale exactly in floating point, so normalisation gives bit-identical maps.
    maps = integer_maps.astype(float)
    scaled = maps * 2.0**exponent
    boxes = np.array([box, box])
    masks = regions.boxes_to_masks(boxes, (5, 6))
    np.testing.assert_array_equal(wsol.best_box_iou(scaled, boxes), wsol.best_box_iou(maps, boxes))
    assert wsol.max_box_acc_v2(scaled, boxes).value == wsol.max_box_acc_v2(maps, boxes).value
    assert wsol.pxap(scaled, masks).value == wsol.pxap(maps, masks).value


def test_scaling_smooth_maps_by_any_constant():
    rng = np.random.default_rng(14)
    maps = smooth_maps(rng, 6, (20, 20))
    boxes = random_boxes(rng, 6, (20, 20))
    masks = regions.boxes_to_masks(boxes, (20, 20))
    for factor in (3.7, 1e-4, 250.0):
        assert wsol.max_box_acc_v2(maps * factor, boxes).value == wsol.max_box_acc_v2(maps, boxes).value
        assert wsol.pxap(maps * factor, masks).value == pytest.approx(wsol.pxap(maps, masks).value, abs=1e-12)
