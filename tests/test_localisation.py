"""Localisation metrics on hand-made masks and maps with hand-computed answers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from camsweep import regions
from camsweep.metrics import localisation as loc

SHAPE = (10, 10)


def l_mask():
    """12-pixel L: rows 2–3 × cols 2–5 plus rows 4–5 × cols 2–3. Its box (2, 2, 5, 5) covers 16 pixels."""
    mask = np.zeros(SHAPE, bool)
    mask[2:4, 2:6] = True
    mask[4:6, 2:4] = True
    return mask


def score(saliency, mask, **settings):
    result = loc.scores(saliency[None].astype(float), mask[None], regions.boxes_from_masks(mask[None]),
                        loc.LocalisationSettings(**settings))
    return {name: float(values[0]) for name, values in result.items()}


def test_partial_overlap_by_hand():
    # Map = 1 on rows 2–3 × cols 2–7 (12 px): mean 0.12, so that block is the thresholded region and
    # its box is (2, 2, 7, 3). Overlap with the mask and with the GT box: rows 2–3 × cols 2–5 = 8 px.
    saliency = np.zeros(SHAPE)
    saliency[2:4, 2:8] = 1.0
    s = score(saliency, l_mask())
    assert s["iou_mask"] == pytest.approx(8 / 16)  # union 12 + 12 − 8
    assert s["iou_box"] == pytest.approx(8 / 20)  # union 12 + 16 − 8
    assert s["le_mask"] == pytest.approx(0.5) and s["le_box"] == pytest.approx(0.6)
    assert s["f1_mask"] == pytest.approx(16 / 24) and s["f1_box"] == pytest.approx(16 / 28)
    assert s["pointing_game_mask"] == 1.0 and s["pointing_game_box"] == 1.0  # first maximum: (row 2, col 2)
    assert s["energy_pg_mask"] == pytest.approx(8 / 12) and s["energy_pg_box"] == pytest.approx(8 / 12)
    assert s["soft_f_mask"] == pytest.approx(2 / 3)  # precision 8/12, recall 8/12
    assert s["soft_f_box"] == pytest.approx(2 * (8 / 12) * (8 / 16) / (8 / 12 + 8 / 16))  # recall 8/16
    assert s["mae"] == pytest.approx(8 / 100)  # 4 px map-only, 4 px mask-only
    assert s["mae_box"] == pytest.approx(12 / 100)  # 4 px map-only, 8 px box-only


def test_iou_is_not_recall():
    # The box-vs-mask study original's "IoU" was recall |P∩G|/|G|; here 8/12 would be recall, IoU is 8/16.
    saliency = np.zeros(SHAPE)
    saliency[2:4, 2:8] = 1.0
    assert score(saliency, l_mask())["iou_mask"] == pytest.approx(0.5) != pytest.approx(8 / 12)


def test_map_entirely_inside_and_entirely_outside():
    inside = np.zeros(SHAPE)
    inside[2:4, 2:4] = 1.0
    s = score(inside, l_mask())
    assert s["energy_pg_mask"] == 1.0 and s["pointing_game_mask"] == 1.0
    assert s["iou_mask"] == pytest.approx(4 / 12) and s["iou_box"] == pytest.approx(4 / 16)
    outside = np.zeros(SHAPE)
    outside[7:9, 7:9] = 1.0
    s = score(outside, l_mask())
    for name in ("energy_pg_mask", "energy_pg_box", "pointing_game_mask", "iou_mask", "iou_box", "f1_mask", "soft_f_mask"):
        assert s[name] == 0.0, name
    assert s["le_mask"] == 1.0 and s["mae"] == pytest.approx(16 / 100)


@pytest.mark.parametrize("value", [0.0, 0.3])
def test_constant_map_is_a_failure_never_a_hit(value):
    s = score(np.full(SHAPE, value), l_mask())
    for name in ("pointing_game_box", "pointing_game_mask", "energy_pg_box", "energy_pg_mask", "iou_box",
                 "iou_mask", "f1_box", "f1_mask", "soft_f_box", "soft_f_mask"):
        assert s[name] == 0.0, name
    assert s["le_box"] == 1.0 and s["le_mask"] == 1.0
    assert s["mae"] == pytest.approx(12 / 100)


def test_empty_mask_gives_nan_for_every_localisation_metric():
    saliency = np.zeros(SHAPE)
    saliency[2:4, 2:8] = 1.0
    s = score(saliency, np.zeros(SHAPE, bool))
    assert all(np.isnan(value) for value in s.values())


def test_full_mask():
    saliency = np.zeros(SHAPE)
    saliency[0:5, 0:4] = 1.0  # 20 px region
    s = score(saliency, np.ones(SHAPE, bool))
    assert s["iou_mask"] == pytest.approx(0.2) and s["iou_box"] == pytest.approx(0.2)
    assert s["energy_pg_mask"] == 1.0 and s["pointing_game_box"] == 1.0
    assert s["mae"] == pytest.approx(0.8)


def test_nan_in_a_map_is_an_error():
    saliency = np.zeros(SHAPE)
    saliency[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        score(saliency, l_mask())


def test_largest_component_step_and_pointing_tolerance():
    saliency = np.zeros(SHAPE)
    saliency[2:4, 2:4] = 1.0  # 4 px inside the mask
    saliency[7:10, 7:10] = 0.9  # 9 px outside: the largest component
    with_component = score(saliency, l_mask())
    without = score(saliency, l_mask(), largest_component=False)
    assert with_component["iou_mask"] == 0.0
    assert without["iou_mask"] == pytest.approx(4 / (13 + 12 - 4))
    peak = np.zeros(SHAPE)
    peak[8, 3] = 1.0  # two rows below the L's foot (rows 4–5, cols 2–3)
    assert score(peak, l_mask(), pointing_tolerance=1)["pointing_game_mask"] == 0.0
    assert score(peak, l_mask(), pointing_tolerance=3)["pointing_game_mask"] == 1.0


binary_regions = hnp.arrays(bool, (2, 6, 6))


@settings(max_examples=100, deadline=None)
@given(binary_regions)
def test_f1_equals_2iou_over_1_plus_iou(pair):
    predicted, truth = pair
    iou, f1 = loc.iou(predicted, truth), loc.f1(predicted, truth)
    if np.isnan(iou):
        assert np.isnan(f1)
    else:
        assert f1 == pytest.approx(2 * iou / (1 + iou))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(float, (2, 8, 8), elements=st.integers(0, 64).map(lambda k: k / 64)),
    hnp.arrays(bool, (2, 8, 8)),
    st.sampled_from([0.25, 0.5, 2.0, 8.0]),
    st.integers(-5, 5),
)
def test_localisation_is_invariant_to_positive_affine_map_changes(saliency, masks, scale, shift):
    # Dyadic values, power-of-two scales and integer shifts keep every transform exact in float64, so
    # invariance must hold exactly (with arbitrary floats, rounding can flatten a map: 5e-324·s + t = t).
    boxes = regions.boxes_from_masks(masks)
    base = loc.scores(saliency, masks, boxes)
    moved = loc.scores(saliency * scale + shift, masks, boxes)
    for name in loc.METRIC_NAMES:
        np.testing.assert_array_equal(moved[name], base[name], err_msg=name)
        finite = base[name][np.isfinite(base[name])]
        if name.startswith(("energy", "soft_f", "iou", "f1", "pointing", "le")):
            assert ((finite >= 0) & (finite <= 1)).all(), name


def test_seed_compatible_metrics_by_hand():
    # Saliency 1 on rows 1–2 × cols 1–4 (8 px) and on the stray pixel (4, 4); mean 9/36 → those 9 pixels.
    # GT mask = GT box region = rows 1–3 × cols 1–3 (9 px).
    saliency = np.zeros((1, 6, 6))
    saliency[0, 1:3, 1:5] = 1
    saliency[0, 4, 4] = 1
    mask = np.zeros((1, 6, 6), bool)
    mask[0, 1:4, 1:4] = True
    box = np.array([[1, 1, 3, 3]])
    seed = loc.seed_compatible_scores(saliency, mask, box)
    # No largest component: the predicted box spans (1,1)–(4,4) and covers the whole GT box → recall 1.
    assert seed["le_box_seed"][0] == pytest.approx(0.0)
    assert seed["le_mask_seed"][0] == pytest.approx(1 - 6 / 9)  # 6 of the 9 GT pixels are above the mean
    # "F1" is the soft F: precision = EPG = 6/9, recall = mean saliency in GT = 6/9.
    assert seed["f1_mask_seed"][0] == pytest.approx(6 / 9)
    assert seed["f1_box_seed"][0] == pytest.approx(6 / 9)
    corrected = loc.scores(saliency, mask, box)
    # The corrected IoU keeps the largest component (the 8-px bar): IoU with the mask = 6 / 11.
    assert corrected["le_mask"][0] == pytest.approx(1 - 6 / 11)
    empty = loc.seed_compatible_scores(saliency, np.zeros_like(mask), regions.NO_BOX[None])
    assert all(np.isnan(values[0]) for values in empty.values())
