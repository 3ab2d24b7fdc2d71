import logging

import numpy as np
import pytest

from camsweep import segmented_regions
from camsweep.segmented_regions import PredictedRegions


@pytest.fixture()
def two_components():
    """One 8×10 mask: a 3×3 block plus a diagonal neighbour (10 px, 8-connected) and a 2×2 block (4 px)."""
    mask = np.zeros((8, 10), bool)
    mask[1:4, 1:4] = True  # rows 1-3, cols 1-3
    mask[4, 4] = True  # touches (3, 3) only diagonally: same component under 8-connectivity
    mask[5:7, 7:9] = True  # rows 5-6, cols 7-8: the smaller component
    return mask


def test_largest_component_its_box_and_the_union_box(two_components):
    result = segmented_regions.regions_from_masks(two_components[None])
    expected = np.zeros((8, 10), bool)
    expected[1:4, 1:4] = True
    expected[4, 4] = True
    np.testing.assert_array_equal(result.masks[0], expected)
    np.testing.assert_array_equal(result.boxes, [[1, 1, 4, 4]])  # x_min, y_min, x_max, y_max inclusive
    np.testing.assert_array_equal(result.union_boxes, [[1, 1, 8, 6]])  # around both components
    np.testing.assert_array_equal(result.empty, [False])
    assert result.boxes.dtype == np.int32 and result.union_boxes.dtype == np.int32


def test_batch_with_an_empty_prediction_falls_back_to_the_whole_image(two_components, caplog):
    single = np.zeros((8, 10), bool)
    single[7, 9] = True  # one pixel in the bottom-right corner
    masks = np.stack([two_components, np.zeros((8, 10), bool), single])
    with caplog.at_level(logging.WARNING, logger="camsweep.segmented_regions"):
        result = segmented_regions.regions_from_masks(masks, ids=np.array(["a", "b", "c"]))
    np.testing.assert_array_equal(result.empty, [False, True, False])
    assert result.masks[1].all()
    np.testing.assert_array_equal(result.boxes, [[1, 1, 4, 4], [0, 0, 9, 7], [9, 7, 9, 7]])
    np.testing.assert_array_equal(result.union_boxes, [[1, 1, 8, 6], [0, 0, 9, 7], [9, 7, 9, 7]])
    np.testing.assert_array_equal(result.masks[2], single)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "1 of 3 predicted masks are empty" in record.getMessage() and "(b)" in record.getMessage()


def test_warning_names_the_first_few_ids(caplog):
    masks = np.zeros((7, 8, 8), bool)
    with caplog.at_level(logging.WARNING, logger="camsweep.segmented_regions"):
        result = segmented_regions.regions_from_masks(masks, ids=np.array([f"im{i}" for i in range(7)]))
    assert result.empty.all() and result.masks.all()
    assert "7 of 7 predicted masks are empty" in caplog.text
    assert "im0, im1, im2, im3, im4 and 2 more" in caplog.text


def test_no_warning_when_every_prediction_has_a_region(two_components, caplog):
    with caplog.at_level(logging.WARNING, logger="camsweep.segmented_regions"):
        segmented_regions.regions_from_masks(two_components[None])
    assert not caplog.records


def test_equal_components_keep_the_first_labelled():
    mask = np.zeros((1, 6, 6), bool)
    mask[0, 4, 0:2] = True  # 2 px, lower
    mask[0, 0, 3:5] = True  # 2 px, top row: OpenCV labels it first
    result = segmented_regions.regions_from_masks(mask)
    np.testing.assert_array_equal(result.boxes, [[3, 0, 4, 0]])
    np.testing.assert_array_equal(result.union_boxes, [[0, 0, 4, 4]])


def test_region_masks_for_each_shape(two_components):
    result = segmented_regions.regions_from_masks(two_components[None])
    np.testing.assert_array_equal(segmented_regions.region_masks(result, "mask"), result.masks)
    box = np.zeros((1, 8, 10), bool)
    box[0, 1:5, 1:5] = True
    np.testing.assert_array_equal(segmented_regions.region_masks(result, "box"), box)
    union = np.zeros((1, 8, 10), bool)
    union[0, 1:7, 1:9] = True
    np.testing.assert_array_equal(segmented_regions.region_masks(result, "union_box"), union)
    with pytest.raises(ValueError, match="unknown region shape 'hull'; valid: mask, all_components, box, union_box"):
        segmented_regions.region_masks(result, "hull")


def test_input_checks():
    with pytest.raises(ValueError, match=r"predicted masks must be \(N, H, W\)"):
        segmented_regions.regions_from_masks(np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="2 ids for 1 predicted masks"):
        segmented_regions.regions_from_masks(np.ones((1, 8, 8), bool), ids=np.array(["a", "b"]))
    empty = segmented_regions.regions_from_masks(np.zeros((0, 4, 5), bool))
    assert isinstance(empty, PredictedRegions) and empty.masks.shape == (0, 4, 5) and empty.boxes.shape == (0, 4)


# --- every component, and the attention study's parts of a box ----------------------------------------


def test_all_components_keeps_both_blobs_where_mask_keeps_one():
    lungs = np.zeros((1, 6, 9), bool)
    lungs[0, 1:5, 1:3] = True  # left lung: rows 1-4, cols 1-2 (8 px)
    lungs[0, 2:5, 6:8] = True  # right lung: rows 2-4, cols 6-7 (6 px), not touching
    result = segmented_regions.regions_from_masks(lungs)
    left = np.zeros((1, 6, 9), bool)
    left[0, 1:5, 1:3] = True
    np.testing.assert_array_equal(segmented_regions.region_masks(result, "mask"), left)
    np.testing.assert_array_equal(segmented_regions.region_masks(result, "all_components"), lungs)
    assert segmented_regions.region_masks(result, "all_components").sum() == 14
    np.testing.assert_array_equal(segmented_regions.shape_boxes(result, "all_components"), [[1, 1, 7, 4]])
    np.testing.assert_array_equal(segmented_regions.shape_boxes(result, "mask"), [[1, 1, 2, 4]])


def test_all_components_falls_back_to_the_whole_image_when_empty(caplog):
    with caplog.at_level(logging.WARNING, logger="camsweep.segmented_regions"):
        result = segmented_regions.regions_from_masks(np.zeros((2, 3, 4), bool), ids=np.array(["a", "b"]))
    assert segmented_regions.region_masks(result, "all_components").all()
    assert "2 of 2 predicted masks are empty" in caplog.text


def test_all_components_without_stored_foreground_asks_for_the_file_anew(two_components):
    found = segmented_regions.regions_from_masks(two_components[None])
    old = PredictedRegions(found.masks, found.boxes, found.union_boxes, found.empty)  # an older region file
    np.testing.assert_array_equal(segmented_regions.region_masks(old, "mask"), found.masks)
    with pytest.raises(ValueError, match="'all_components' needs the whole predicted masks.*delete it"):
        segmented_regions.region_masks(old, "all_components")


def _rows(part: np.ndarray) -> list[int]:
    return np.flatnonzero(part.any(axis=1)).tolist()


def _cols(part: np.ndarray) -> list[int]:
    return np.flatnonzero(part.any(axis=0)).tolist()


def test_halves_of_odd_and_even_heights_by_hand():
    # Box rows 1-5 (height 5, middle row 3) and rows 2-5 (height 4); columns 2-4 in both; image 8×7.
    boxes = np.array([[2, 1, 4, 5], [2, 2, 4, 5]], dtype=np.int32)
    upper = segmented_regions.box_part_masks(boxes, "upper_half", (8, 7))
    lower = segmented_regions.box_part_masks(boxes, "lower_half", (8, 7))
    assert _rows(upper[0]) == [1, 2] and _rows(lower[0]) == [3, 4, 5]  # odd: the middle row 3 is the lower half's
    assert _rows(upper[1]) == [2, 3] and _rows(lower[1]) == [4, 5]  # even: 2 rows each
    for i in range(2):
        assert _cols(upper[i]) == [2, 3, 4] and _cols(lower[i]) == [2, 3, 4]
    assert upper[0].sum() == 6 and lower[0].sum() == 9 and upper[1].sum() == lower[1].sum() == 6
    whole = segmented_regions.box_part_masks(boxes, "whole", (8, 7))
    np.testing.assert_array_equal(upper | lower, whole)  # the halves partition the box
    assert not (upper & lower).any()


def test_one_row_box_has_an_empty_upper_half_and_absent_box_no_part():
    boxes = np.array([[1, 2, 3, 2], [-1, -1, -1, -1]], dtype=np.int32)
    upper = segmented_regions.box_part_masks(boxes, "upper_half", (4, 5))
    lower = segmented_regions.box_part_masks(boxes, "lower_half", (4, 5))
    assert not upper.any()
    assert _rows(lower[0]) == [2] and _cols(lower[0]) == [1, 2, 3]
    for part in segmented_regions.BOX_PARTS:
        assert not segmented_regions.box_part_masks(boxes[1:], part, (4, 5)).any(), part


def test_outside_columns_by_hand():
    boxes = np.array([[2, 1, 4, 2], [0, 0, 5, 3]], dtype=np.int32)  # columns 2-4; the whole 4×6 image
    outside = segmented_regions.box_part_masks(boxes, "outside_columns", (4, 6))
    expected = np.zeros((4, 6), bool)
    expected[:, [0, 1, 5]] = True  # every row, not only the box's rows 1-2
    np.testing.assert_array_equal(outside[0], expected)
    assert not outside[1].any()  # a box spanning the width (the whole-image fallback) leaves nothing outside
    with pytest.raises(ValueError, match="unknown box part 'left'; valid: whole, lower_half, upper_half, outside_columns"):
        segmented_regions.box_part_masks(boxes, "left", (4, 6))


def test_regions_by_label_on_a_small_batch():
    # Three images with the same two lungs (rows 1-4 cols 1-2 and rows 2-6 cols 6-7 of 8×10): union box
    # cols 1-7, rows 1-6 (height 6: rows 1-3 upper, 4-6 lower). Labels 0 (no term elsewhere), 1, 2.
    lungs = np.zeros((8, 10), bool)
    lungs[1:5, 1:3] = True
    lungs[2:7, 6:8] = True
    found = segmented_regions.regions_from_masks(np.stack([lungs] * 3))
    labels = np.array([0, 1, 2])
    got = segmented_regions.regions_by_label(found, "union_box", labels, {1: "lower_half", 2: "outside_columns"})
    union = np.zeros((8, 10), bool)
    union[1:7, 1:8] = True
    np.testing.assert_array_equal(got[0], union)  # not listed: region_shape
    lower = np.zeros((8, 10), bool)
    lower[4:7, 1:8] = True
    np.testing.assert_array_equal(got[1], lower)
    outside = np.zeros((8, 10), bool)
    outside[:, [0, 8, 9]] = True
    np.testing.assert_array_equal(got[2], outside)
    # Parts of the largest component's box for mask: the right lung (10 px), rows 2-6 → upper rows 2-3.
    upper = segmented_regions.regions_by_label(found, "mask", labels, {0: "upper_half", 1: "whole"})
    right_upper = np.zeros((8, 10), bool)
    right_upper[2:4, 6:8] = True
    np.testing.assert_array_equal(upper[0], right_upper)
    np.testing.assert_array_equal(upper[1], found.masks[1])  # whole: the region itself, not its box
    np.testing.assert_array_equal(upper[2], found.masks[2])


def test_regions_by_label_without_parts_is_region_masks_unchanged(two_components):
    found = segmented_regions.regions_from_masks(two_components[None])
    for shape in segmented_regions.REGION_SHAPES:
        plain = segmented_regions.region_masks(found, shape)
        for parts in ({}, {0: "whole"}):
            got = segmented_regions.regions_by_label(found, shape, np.array([0]), parts)
            assert got.dtype == plain.dtype and np.array_equal(got, plain)
    with pytest.raises(ValueError, match=r"unknown box part\(s\) \['top'\]"):
        segmented_regions.regions_by_label(found, "mask", np.array([0]), {0: "top"})
    with pytest.raises(ValueError, match="one label per region"):
        segmented_regions.regions_by_label(found, "mask", np.array([0, 1]), {})
