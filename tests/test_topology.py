"""Warping error (Jain et al. 2010): the simple-pixel table, hand-computed warps, degenerate masks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

from camsweep.metrics import localisation
from camsweep.metrics import topology as topo

EIGHT = np.ones((3, 3), int)
FOUR = ndimage.generate_binary_structure(2, 1)
SHAPE = (16, 16)


def window_from_code(code: int, centre: int) -> np.ndarray:
    """Independent construction of the 3 × 3 window: bit k is the k-th non-centre cell in raster order."""
    cells = [(r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)]
    window = np.zeros((3, 3), int)
    for bit, (r, c) in enumerate(cells):
        window[r, c] = (code >> bit) & 1
    window[1, 1] = centre
    return window


def local_counts(window: np.ndarray) -> tuple[int, int]:
    return ndimage.label(window, EIGHT)[1], ndimage.label(1 - window, FOUR)[1]


def topological_numbers(code: int) -> tuple[int, int]:
    """T8: 8-components of the foreground neighbours; T4: 4-components of the background neighbours
    (the centre excluded) that touch a 4-neighbour of the centre."""
    ring = window_from_code(code, 0)
    t8 = ndimage.label(ring, EIGHT)[1]
    background = 1 - ring
    background[1, 1] = 0
    labels, _ = ndimage.label(background, FOUR)
    touching = {labels[r, c] for r, c in ((0, 1), (1, 0), (1, 2), (2, 1))} - {0}
    return t8, len(touching)


def topology(mask: np.ndarray) -> tuple[int, int]:
    """(8-connected foreground components, 4-connected background components) with a background frame."""
    padded = np.pad(mask.astype(int), 1)
    return ndimage.label(padded, EIGHT)[1], ndimage.label(1 - padded, FOUR)[1]


def square(top: int, left: int, size: int, shape=SHAPE) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def error_pixels(predicted, truth, warped="predicted") -> int:
    return int(topo.warping_error_pixels(predicted[None], truth[None], warped)[0])


# --- the simple-pixel table ---------------------------------------------------------------------------


def test_table_matches_scipy_brute_force_for_all_256_configurations():
    expected = np.array([local_counts(window_from_code(c, 1)) == local_counts(window_from_code(c, 0))
                         for c in range(256)])
    np.testing.assert_array_equal(topo.SIMPLE_PIXEL_TABLE, expected)
    np.testing.assert_array_equal(topo.build_simple_pixel_table(), expected)


def test_table_matches_topological_numbers():
    expected = np.array([topological_numbers(c) == (1, 1) for c in range(256)])
    np.testing.assert_array_equal(topo.SIMPLE_PIXEL_TABLE, expected)


@pytest.mark.parametrize(
    ("neighbours", "simple"),
    [
        ([], False),  # isolated pixel: flipping it removes a component
        ([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], False),  # interior: a hole
        ([(0, 1)], True),  # end of a line
        ([(-1, 0), (1, 0)], False),  # bridge between north and south
        ([(-1, -1), (1, 1)], False),  # diagonal bridge
        ([(-1, 0), (0, 1)], True),  # corner: N and E touch diagonally anyway
        ([(-1, 0), (0, 1), (1, 0), (0, -1)], False),  # plus sign: clearing the centre makes a hole
    ],
)
def test_table_hand_cases(neighbours, simple):
    window = np.zeros((3, 3), bool)
    for dr, dc in neighbours:
        window[1 + dr, 1 + dc] = True
    window[1, 1] = True
    assert topo.simple_pixels(window[None])[0, 1, 1] == simple


# --- hand-computed warps ------------------------------------------------------------------------------


def test_identical_masks_score_zero(rng):
    masks = rng.random((5, *SHAPE)) < 0.5
    np.testing.assert_array_equal(topo.warping_error_pixels(masks, masks), 0)
    np.testing.assert_array_equal(topo.warping_error(masks, masks), 0.0)


def test_shifted_boundary_warps_away():
    truth = square(3, 3, 7)
    assert error_pixels(square(5, 6, 7), truth) == 0  # shifted
    assert error_pixels(square(2, 2, 10), truth) == 0  # grown
    assert error_pixels(square(5, 5, 2), truth) == 0  # shrunk
    touching = np.zeros(SHAPE, bool)
    touching[:, :5] = True  # touches three image edges: the frame keeps the background connected
    assert error_pixels(touching, truth) == 0
    assert error_pixels(truth, touching) == 0


def test_extra_blob_leaves_one_pixel():
    # The 3 × 3 blob has no counterpart in the truth: it shrinks to one pixel, whose removal would delete a
    # component, so that pixel is not simple and stays: 1 pixel of 256.
    truth = square(2, 2, 6)
    predicted = truth | square(11, 11, 3)
    assert error_pixels(predicted, truth) == 1
    assert topo.warping_error(predicted[None], truth[None], warped="predicted")[0] == pytest.approx(1 / 256)
    warped = topo.warp(predicted[None], truth[None])[0]
    assert warped[11:14, 11:14].sum() == 1
    # The paper's direction (the default) warps the truth onto the prediction: the truth cannot grow a
    # new component, so the whole extra blob (9 px) stays wrong.
    assert topo.warping_error_pixels(predicted[None], truth[None])[0] == 9


def test_missing_object_costs_its_area():
    # The prediction cannot grow a new component: the second 3 × 3 object of the truth stays wrong (9 px).
    truth = square(2, 2, 6) | square(11, 11, 3)
    assert error_pixels(square(3, 3, 4), truth) == 9


def test_hole_costs_one_pixel_when_the_prediction_is_warped():
    # A 2 × 2 hole in the prediction: three of its pixels fill simply, the last would delete a background
    # component. Warping the truth instead (Jain et al.'s direction), no pixel of the solid truth can be
    # cleared without opening a hole, so all four hole pixels count.
    truth = square(3, 3, 8)
    predicted = truth.copy()
    predicted[6:8, 6:8] = False
    assert error_pixels(predicted, truth) == 1
    assert error_pixels(predicted, truth, warped="truth") == 4


def test_merged_objects_cost_one_pixel():
    # Truth: two 6-row bars two columns apart (not 8-adjacent). The prediction bridges the gap column;
    # its gap pixels clear one by one until the last, which holds the merged object together.
    truth = np.zeros(SHAPE, bool)
    truth[4:10, 2:7] = True
    truth[4:10, 8:13] = True
    predicted = truth.copy()
    predicted[4:10, 7] = True
    assert error_pixels(predicted, truth) == 1


# --- degenerate masks ---------------------------------------------------------------------------------


def test_empty_and_full_masks():
    empty, full = np.zeros(SHAPE, bool), np.ones(SHAPE, bool)
    blob = square(4, 4, 5)
    assert error_pixels(empty, empty) == 0
    assert error_pixels(full, full) == 0
    assert error_pixels(empty, blob) == 25  # nothing to warp: an empty prediction keeps missing the object
    assert error_pixels(blob, empty) == 1  # one component survives as one pixel
    assert error_pixels(blob | square(12, 12, 2), empty) == 2
    assert error_pixels(full, empty) == 1  # inside the background frame a full mask is one object
    assert error_pixels(blob, full) == 0  # grows to the whole image: the frame stays background
    assert topo.warping_error(empty[None], full[None], warped="predicted")[0] == 1.0
    assert topo.warping_error(full[None], empty[None])[0] == 1.0  # paper direction: an empty truth cannot grow


def test_empty_batch():
    none = np.zeros((0, *SHAPE), bool)
    assert topo.warping_error(none, none).shape == (0,)


def test_invalid_inputs_raise():
    mask = np.zeros((1, *SHAPE), bool)
    with pytest.raises(ValueError, match="shape"):
        topo.warping_error(mask, mask[:, :8])
    with pytest.raises(ValueError, match="boolean"):
        topo.warping_error(mask.astype(float), mask)
    with pytest.raises(ValueError, match="warped"):
        topo.warping_error(mask, mask, warped="both")


# --- properties ---------------------------------------------------------------------------------------

masks_strategy = hnp.arrays(bool, (2, 13, 11), elements=st.booleans())  # sizes not multiples of 3


@settings(max_examples=60, deadline=None)
@given(masks_strategy)
def test_warp_keeps_topology_and_stops_only_at_non_simple_pixels(pair):
    source, target = pair[:1], pair[1:]
    warped = topo.warp(source, target)
    assert topology(warped[0]) == topology(source[0])
    assert not (topo.simple_pixels(warped) & (warped != target)).any()  # greedy ran to completion
    assert topo.warping_error_pixels(source, target)[0] <= (source != target).sum()


def test_batch_matches_single_images_and_reruns(rng):
    predicted = rng.random((6, 20, 20)) < 0.55
    truth = rng.random((6, 20, 20)) < 0.45
    batch = topo.warp(predicted, truth)
    np.testing.assert_array_equal(batch, topo.warp(predicted, truth))
    for i in range(6):
        np.testing.assert_array_equal(batch[i], topo.warp(predicted[i : i + 1], truth[i : i + 1])[0])


# --- from maps ----------------------------------------------------------------------------------------


def test_scores_from_maps_use_the_localisation_region():
    truth = square(3, 3, 7)
    saliency = np.zeros(SHAPE)
    saliency[4:11, 5:12] = 1.0  # shifted copy of the truth: no topological error
    saliency[13:15, 13:15] = 0.8  # a second, weaker blob
    with_component = topo.warping_scores_from_maps(saliency[None], truth[None])
    assert with_component["warping_error"][0] == 0.0
    no_component = localisation.LocalisationSettings(largest_component=False)
    both_blobs = topo.warping_scores_from_maps(saliency[None], truth[None], no_component, warped="predicted")
    assert both_blobs["warping_error_pixels"][0] == 1.0
    assert both_blobs["warping_error"][0] == pytest.approx(1 / 256)
    # Default (paper) direction: the truth cannot grow the 2 × 2 second blob, 4 pixels stay wrong.
    assert topo.warping_scores_from_maps(saliency[None], truth[None], no_component)["warping_error_pixels"][0] == 4


def test_scores_from_maps_are_nan_without_ground_truth():
    saliency = np.zeros((2, *SHAPE))
    saliency[:, 2:5, 2:5] = 1.0
    truth = np.stack([np.zeros(SHAPE, bool), square(2, 2, 3)])
    scores = topo.warping_scores_from_maps(saliency, truth)
    assert np.isnan(scores["warping_error"][0]) and np.isnan(scores["warping_error_pixels"][0])
    assert scores["warping_error"][1] == 0.0
