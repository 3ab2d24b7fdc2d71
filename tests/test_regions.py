import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from camsweep import maps, regions


def test_box_of_a_single_pixel_is_inclusive():
    mask = np.zeros((6, 8), bool)
    mask[5, 3] = True
    assert regions.box_from_mask(mask).tolist() == [3, 5, 3, 5]
    assert regions.box_to_mask(regions.box_from_mask(mask), mask.shape).sum() == 1


def test_box_of_an_l_shape_and_of_an_empty_mask():
    mask = np.zeros((10, 10), bool)
    mask[2:6, 2:4] = True
    mask[2:4, 2:8] = True
    assert regions.box_from_mask(mask).tolist() == [2, 2, 7, 5]
    assert regions.box_from_mask(np.zeros((4, 4), bool)).tolist() == [-1, -1, -1, -1]
    assert not regions.box_to_mask(regions.NO_BOX, (4, 4)).any()


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(bool, st.tuples(st.integers(1, 5), st.integers(1, 12), st.integers(1, 12))))
def test_vectorised_boxes_match_single_boxes_and_round_trip(masks):
    boxes = regions.boxes_from_masks(masks)
    for mask, box in zip(masks, boxes, strict=True):
        assert box.tolist() == regions.box_from_mask(mask).tolist()
    filled = regions.boxes_to_masks(boxes, masks.shape[1:])
    assert (filled | ~masks).all()  # every mask pixel lies inside its box
    np.testing.assert_array_equal(regions.boxes_from_masks(filled), boxes)


def test_largest_component_uses_8_connectivity():
    mask = np.zeros((8, 8), bool)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = True  # diagonal chain: one component of 3 under 8-connectivity
    mask[5:7, 5:7] = True  # a 2×2 square: 4 pixels
    assert regions.largest_component(mask).sum() == 4
    mask[3, 3] = mask[4, 4] = True  # the chain now touches the square diagonally: one component of 9
    assert regions.largest_component(mask).sum() == 9
    assert not regions.largest_component(np.zeros((3, 3), bool)).any()


def test_threshold_rules():
    saliency = np.array([[[0.0, 0.2], [0.6, 1.0]]])  # mean 0.45
    assert regions.binarise(saliency, "mean").tolist() == [[[False, False], [True, True]]]
    assert regions.binarise(saliency, "fixed", 0.1).tolist() == [[[False, True], [True, True]]]
    assert regions.binarise(saliency, "fraction_of_max", 0.8).tolist() == [[[False, False], [False, True]]]
    with pytest.raises(ValueError, match="valid: mean, fixed, fraction_of_max"):
        regions.binarise(saliency, "median")


def test_normalise_constant_and_nan_maps():
    np.testing.assert_allclose(maps.normalise(np.array([[2.0, 4.0], [3.0, 6.0]])), [[0, 0.5], [0.25, 1]])
    assert not maps.normalise(np.full((1, 3, 3), 7.0)).any()
    with pytest.raises(ValueError, match="NaN"):
        maps.normalise(np.array([[0.0, np.nan]]))


def test_upsampling_is_torch_bilinear_with_half_pixel_centres(rng):
    small = rng.random((3, 7, 5)).astype(np.float32)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(small)[:, None], size=(56, 40), mode="bilinear", align_corners=False
    )[:, 0].numpy()
    np.testing.assert_allclose(maps.upsample(small, (56, 40)), expected, atol=1e-5)
