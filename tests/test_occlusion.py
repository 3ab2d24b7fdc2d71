import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from camsweep.studies.segmentation_ablation import occlusion
from camsweep.cams import CamSettings, RegionTargets, compute, hooks, layouts
from camsweep.metrics import localisation, segmentation, stability
from camsweep import maps as saliency_maps
from camsweep.models.segmenters import UNet

# ---------------------------------------------------------------------------------------------- masks


def _blob(shape=(12, 12)):
    region = np.zeros(shape, bool)
    region[2:9, 3:10] = True
    region[5, 1:3] = True
    return region


def test_counts_are_round_half_up_of_fraction_times_region():
    # |region| = 10: 0.05·10 = 0.5 → 1, 0.25·10 = 2.5 → 3, 0.35·10 = 3.5 → 4 (half up, not to even).
    counts = occlusion.occlusion_counts(10, [0.0, 0.05, 0.1, 0.25, 0.35, 0.5, 1.0])
    np.testing.assert_array_equal(counts, [0, 1, 1, 3, 4, 5, 10])
    region = np.zeros((1, 4, 5), bool)
    region[0, :2, :] = True  # 10 pixels
    masks = occlusion.occlusion_masks(region, [0.0, 0.05, 0.25, 0.35, 1.0], "random", seed=3, ids=["a"])
    np.testing.assert_array_equal(masks.sum(axis=(1, 2, 3)), [0, 1, 3, 4, 10])


@pytest.mark.parametrize("pattern", occlusion.PATTERNS)
def test_masks_are_nested_inside_the_region_with_the_promised_counts(pattern):
    regions = np.stack([_blob(), ~_blob(), np.zeros((12, 12), bool)])
    fractions = [0.0, 0.1, 0.3, 0.5, 0.8, 1.0]
    masks = occlusion.occlusion_masks(regions, fractions, pattern, seed=0, ids=["x", "y", "z"])
    assert masks.shape == (len(fractions), 3, 12, 12) and masks.dtype == bool
    sizes = regions.sum(axis=(1, 2))
    for f, fraction in enumerate(fractions):
        np.testing.assert_array_equal(masks[f].sum(axis=(1, 2)), np.floor(fraction * sizes + 0.5))
        assert not (masks[f] & ~regions).any()  # only region pixels
        if f:
            assert not (masks[f - 1] & ~masks[f]).any()  # nested
    np.testing.assert_array_equal(masks[-1], regions)  # fraction 1 occludes the whole region
    assert not masks[:, 2].any()  # an empty region occludes nothing


def test_same_id_same_mask_whatever_the_batch():
    regions = np.stack([_blob(), np.roll(_blob(), 2, axis=1), np.roll(_blob(), 1, axis=0)])
    ids = np.array(["a", "b", "c"])  # numpy strings key like Python strings
    fractions = (0.2, 0.6)
    for pattern in occlusion.PATTERNS:
        together = occlusion.occlusion_masks(regions, fractions, pattern, seed=5, ids=ids)
        again = occlusion.occlusion_masks(regions, fractions, pattern, seed=5, ids=ids)
        np.testing.assert_array_equal(together, again)  # deterministic
        reversed_ = occlusion.occlusion_masks(regions[::-1], fractions, pattern, seed=5, ids=["c", "b", "a"])
        np.testing.assert_array_equal(together, reversed_[:, ::-1])
        alone = occlusion.occlusion_masks(regions[1:2], fractions, pattern, seed=5, ids=["b"])
        np.testing.assert_array_equal(together[:, 1:2], alone)
        other_seed = occlusion.occlusion_masks(regions, fractions, pattern, seed=6, ids=ids)
        assert not np.array_equal(together, other_seed)
    # the same region under another id gets another order
    twins = np.stack([_blob(), _blob()])
    masks = occlusion.occlusion_masks(twins, [0.3], "random", seed=0, ids=["p", "q"])
    assert not np.array_equal(masks[0, 0], masks[0, 1])


def _components(mask: np.ndarray) -> int:
    count, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    return count - 1  # minus the background label


def test_sweep_is_a_contiguous_block_on_a_square_and_random_is_scattered():
    square = np.zeros((20, 20), bool)
    square[5:15, 5:15] = True
    regions = np.stack([square] * 8)
    ids = [f"im{i}" for i in range(8)]
    sweep = occlusion.occlusion_masks(regions, [0.1, 0.3, 0.5, 0.7], "sweep", seed=0, ids=ids)
    for mask in sweep.reshape(-1, 20, 20):
        assert _components(mask) == 1
        # a half-plane cut of a square: every occluded row and column is a run of consecutive pixels
        for line in (*mask, *mask.T):
            on = np.flatnonzero(line)
            assert len(on) == 0 or on[-1] - on[0] + 1 == len(on)
    # different images sweep from different directions
    assert len({mask.tobytes() for mask in sweep[1]}) > 1
    scattered = occlusion.occlusion_masks(regions, [0.3], "random", seed=0, ids=ids)
    assert all(_components(mask) > 1 for mask in scattered[0])


@pytest.mark.parametrize("bad", [[-0.1], [0.2, 1.5], [float("nan")], ["0.5"], [True], [None]])
def test_bad_fractions_are_named(bad):
    with pytest.raises(ValueError, match="fraction"):
        occlusion.occlusion_masks(np.stack([_blob()]), bad, "sweep", seed=0, ids=["a"])
    with pytest.raises(ValueError, match=repr(bad[-1]).replace("(", r"\(").replace(")", r"\)")):
        occlusion.check_fractions(bad)


def test_other_mask_errors():
    with pytest.raises(ValueError, match="no occlusion fractions"):
        occlusion.occlusion_masks(np.stack([_blob()]), [], "sweep", seed=0, ids=["a"])
    with pytest.raises(ValueError, match="pattern 'spiral'"):
        occlusion.occlusion_masks(np.stack([_blob()]), [0.1], "spiral", seed=0, ids=["a"])
    with pytest.raises(ValueError, match="one image id"):
        occlusion.occlusion_masks(np.stack([_blob()]), [0.1], "sweep", seed=0, ids=["a", "b"])
    with pytest.raises(ValueError, match="bool"):
        occlusion.occlusion_masks(np.stack([_blob()]).astype(np.uint8), [0.1], "sweep", seed=0, ids=["a"])


# -------------------------------------------------------------------------------------------- occlude


def test_occlude_by_hand():
    images = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    masks = np.zeros((2, 2, 2), bool)
    masks[0, 0, 1] = True
    masks[1, 1, 0] = masks[1, 1, 1] = True
    out = occlusion.occlude(images, masks, value=7)
    expected = images.copy()
    expected[0, 0, 1] = [7, 7, 7]
    expected[1, 1, 0] = [7, 7, 7]
    expected[1, 1, 1] = [7, 7, 7]
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(images, np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3))  # a copy
    for value in (256, -1, 1.5, True):
        with pytest.raises(ValueError, match="0..255"):
            occlusion.occlude(images, masks, value)
    with pytest.raises(ValueError, match="masks"):
        occlusion.occlude(images, masks[:, :1], 0)


# ---------------------------------------------------------------------------------------------- study

FRACTIONS = (0.0, 0.5, 1.0)


def preprocess(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


@pytest.fixture(scope="module")
def scene():
    """Five 32×32 images: bright rectangles (the foreground) on dark noise; the last has no foreground."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 80, (5, 32, 32, 3), dtype=np.uint8)
    truth = np.zeros((5, 32, 32), bool)
    for i in range(4):
        y, x = rng.integers(4, 14, 2)
        truth[i, y : y + 14, x : x + 12] = True
    images[truth] = rng.integers(150, 255, (truth.sum(), 3))
    return images, truth, np.array([f"img{i}" for i in range(5)])


@pytest.fixture(scope="module")
def segmenter(scene):
    """The tiny U-Net with random weights, batch-norm statistics of the scene and a least-squares 1×1 head
    on decoder1's features, so it predicts a real, non-trivial foreground with clear logit margins."""
    images, truth, _ = scene
    torch.manual_seed(0)
    model = UNet(widths=(4, 8, 8, 16))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # cumulative average: one pass sets the statistics of the scene
            module.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(preprocess(images))
    model.eval()
    inputs = preprocess(images)
    with hooks.capture({"decoder1": model.decoder1}, layouts.Resolver(model), inputs.shape[-2:]) as store, torch.no_grad():
        model(inputs)
    features = store["decoder1"].permute(0, 2, 3, 1).reshape(-1, 4).double()
    design = torch.cat([features, torch.ones(len(features), 1, dtype=torch.double)], dim=1)
    wanted = torch.from_numpy(np.where(truth.reshape(-1), 4.0, -4.0))[:, None]
    solution = torch.linalg.lstsq(design, wanted).solution[:, 0].float()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.weight[1, :, 0, 0] = solution[:4]
        model.head.bias[1] = solution[4]
    return model


@pytest.fixture(scope="module")
def table(segmenter, scene):
    images, truth, ids = scene
    return occlusion.occlusion_study(segmenter, preprocess, images, truth, ids, FRACTIONS, batch_size=4)


def test_table_shape_columns_and_order(table, scene):
    ids = scene[2]
    assert list(table.columns) == list(occlusion.COLUMNS)
    assert len(table) == 2 * len(FRACTIONS) * len(ids)
    expected = [(o, f, i) for o in ("foreground", "background") for f in FRACTIONS for i in ids]
    assert list(zip(table["occluded"], table["fraction"], table["id"], strict=True)) == expected


def test_fraction_zero_is_the_unoccluded_image_shared_by_both_regions(table):
    zero = table[table["fraction"] == 0.0]
    assert (zero["map_rmse"] == 0.0).all()
    assert (zero["occluded_pixels"] == 0).all()
    foreground, background = (zero[zero["occluded"] == kind].reset_index(drop=True) for kind in ("foreground", "background"))
    for column in ("dice", "iou", "predicted_pixels", "epg_remaining"):
        np.testing.assert_array_equal(foreground[column], background[column])
    # the model predicts a real foreground, and occlusion moves the map
    assert (foreground["predicted_pixels"].iloc[:4] > 0).all()
    assert (table.loc[(table["fraction"] == 0.5) & (table["id"] != "img4"), "map_rmse"] > 0).all()


def test_nan_only_where_documented(table, scene):
    _, truth, ids = scene
    empty_truth = table["id"] == "img4"
    foreground = table["occluded"] == "foreground"
    expected_nan = {
        "occluded_pixels_fraction": empty_truth & foreground,  # share of an empty region
        "epg_remaining": empty_truth | (foreground & (table["fraction"] == 1.0)),  # no foreground left
    }
    for column in occlusion.COLUMNS[2:]:
        nan = table[column].isna()
        np.testing.assert_array_equal(nan, expected_nan.get(column, np.zeros(len(table), bool)), err_msg=column)
    # achieved shares: round half up of fraction · |region|
    sizes = dict(zip(ids, truth.sum(axis=(1, 2)), strict=True))
    rows = table[foreground & ~empty_truth]
    expected = np.floor(rows["fraction"] * rows["id"].map(sizes) + 0.5)
    np.testing.assert_array_equal(rows["occluded_pixels"], expected)
    np.testing.assert_allclose(rows["occluded_pixels_fraction"], expected / rows["id"].map(sizes))


def test_one_condition_recomputed_independently(table, segmenter, scene):
    images, truth, ids = scene
    masks = occlusion.occlusion_masks(truth, [0.5], "sweep", seed=0, ids=ids)[0]
    occluded = occlusion.occlude(images, masks, 0)
    assert (occluded[masks] == 0).all() and np.array_equal(occluded[~masks], images[~masks])
    with torch.no_grad():
        predicted = (segmenter(preprocess(occluded)).argmax(dim=1) == 1).numpy()
    classes = torch.ones(len(images), dtype=torch.long)
    clean_maps = compute(segmenter, preprocess(images), "ablationcam", ["encoder4"], RegionTargets(classes))["encoder4"].numpy()
    maps = compute(segmenter, preprocess(occluded), "ablationcam", ["encoder4"], RegionTargets(classes))["encoder4"].numpy()
    rows = table[(table["occluded"] == "foreground") & (table["fraction"] == 0.5)]
    np.testing.assert_array_equal(rows["predicted_pixels"], predicted.sum(axis=(1, 2)))
    np.testing.assert_array_equal(rows["dice"], segmentation.dice(predicted, truth))
    np.testing.assert_array_equal(rows["iou"], segmentation.iou(predicted, truth))
    np.testing.assert_allclose(rows["map_rmse"], stability.cam_rmse(clean_maps, maps), rtol=1e-5, atol=1e-6)
    upsampled = saliency_maps.normalise(saliency_maps.upsample(maps, (32, 32)))
    epg = localisation.energy_pointing_game(upsampled, truth & ~masks)
    np.testing.assert_allclose(rows["epg_remaining"].iloc[:4], epg[:4], rtol=1e-5, atol=1e-7)
    # the image without foreground is not occluded at all: it is the original, with the original's map
    assert rows["map_rmse"].iloc[4] == 0.0
    # segment_and_explain gives the same predictions
    again, raw = occlusion.segment_and_explain(segmenter, preprocess, occluded, batch_size=2)
    np.testing.assert_array_equal(again, predicted)
    assert raw.shape == (5, 4, 4) and np.isfinite(raw).all()


def test_background_occlusion_leaves_the_foreground_for_epg(table, scene):
    rows = table[(table["occluded"] == "background") & (table["id"] != "img4")]
    assert rows["epg_remaining"].notna().all()
    sizes = (~scene[1]).sum(axis=(1, 2))[:4]
    full = rows[rows["fraction"] == 1.0]
    np.testing.assert_array_equal(full["occluded_pixels"], sizes)
    np.testing.assert_array_equal(full["occluded_pixels_fraction"], 1.0)


def test_batching_does_not_change_the_table(table, segmenter, scene):
    images, truth, ids = scene
    one_pass = occlusion.occlusion_study(segmenter, preprocess, images, truth, ids, FRACTIONS[::-1], batch_size=64)
    pd.testing.assert_frame_equal(one_pass, table, check_exact=False, rtol=1e-5, atol=1e-6)


def test_empty_predictions_give_zero_maps_not_nan(segmenter, scene):
    """A segmenter that never predicts the class: the region is empty, the target score is exactly 0, every
    Ablation-CAM weight is 0 / ε = 0 and the map is all zeros; nothing NaN reaches the table."""
    images, truth, ids = scene
    silent = UNet(widths=(4, 8, 8, 16))
    silent.load_state_dict(segmenter.state_dict())
    with torch.no_grad():
        silent.head.bias[1] = -1e4
    predicted, raw = occlusion.segment_and_explain(silent, preprocess, images[:2])
    assert not predicted.any()
    np.testing.assert_array_equal(raw, 0.0)
    result = occlusion.occlusion_study(silent, preprocess, images[:4], truth[:4], ids[:4], (0.0, 0.5), pattern="random")
    assert (result["predicted_pixels"] == 0).all()
    assert (result["dice"] == 0.0).all() and (result["iou"] == 0.0).all()
    assert (result["map_rmse"] == 0.0).all()  # zero map against zero map
    assert (result["epg_remaining"] == 0.0).all()  # no energy anywhere: a localisation failure, not NaN
    assert not result.isna().any().any()


def test_study_validates_its_inputs(segmenter, scene):
    images, truth, ids = scene
    with pytest.raises(ValueError, match="distinct"):
        occlusion.occlusion_study(segmenter, preprocess, images, truth, ids, (0.0, 0.5, 0.5))
    with pytest.raises(ValueError, match="1.5"):
        occlusion.occlusion_study(segmenter, preprocess, images, truth, ids, (0.0, 1.5))
    with pytest.raises(ValueError, match="0..255"):
        occlusion.occlusion_study(segmenter, preprocess, images, truth, ids, (0.0,), value=300)
    with pytest.raises(ValueError, match="ids"):
        occlusion.occlusion_study(segmenter, preprocess, images, truth, ids[:3], (0.0,))
    with pytest.raises(ValueError, match="not unique"):
        occlusion.occlusion_study(segmenter, preprocess, images, truth, ["a"] * 5, (0.0,))
    with pytest.raises(ValueError, match="truth masks"):
        occlusion.occlusion_study(segmenter, preprocess, images, truth.astype(np.uint8), ids, (0.0,))
    with pytest.raises(ValueError, match="target class"):
        occlusion.occlusion_study(segmenter, preprocess, images, truth, ids, (0.0,), target_class=2)


def test_settings_pass_through(segmenter, scene):
    images, truth, ids = scene
    tail = occlusion.occlusion_study(
        segmenter, preprocess, images[:2], truth[:2], ids[:2], (0.0, 0.3),
        settings=CamSettings(ablation_strategy="full", batch_size=2), batch_size=3,
    )
    auto = occlusion.occlusion_study(segmenter, preprocess, images[:2], truth[:2], ids[:2], (0.0, 0.3))
    pd.testing.assert_frame_equal(tail, auto, check_exact=False, rtol=1e-4, atol=1e-4)
