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
    with pytest.raises(ValueError, match="unknown region shape 'hull'; valid: mask, box, union_box"):
        segmented_regions.region_masks(result, "hull")


def test_input_checks():
    with pytest.raises(ValueError, match=r"predicted masks must be \(N, H, W\)"):
        segmented_regions.regions_from_masks(np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="2 ids for 1 predicted masks"):
        segmented_regions.regions_from_masks(np.ones((1, 8, 8), bool), ids=np.array(["a", "b"]))
    empty = segmented_regions.regions_from_masks(np.zeros((0, 4, 5), bool))
    assert isinstance(empty, PredictedRegions) and empty.masks.shape == (0, 4, 5) and empty.boxes.shape == (0, 4)
