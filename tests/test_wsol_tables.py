"""Dataset-level WSOL metrics from the per-image evidence the score stage stores, with bootstrap CIs."""

import cv2
import numpy as np
import pandas as pd
import pytest

from camsweep import regions, scoring, stats, tables
from camsweep.data.imageset import ImageSet
from camsweep.metrics import wsol


def smooth_maps(count, size, seed):
    rng = np.random.default_rng(seed)
    return np.stack([cv2.GaussianBlur(rng.random((size, size)), (0, 0), 3) for _ in range(count)])


def masks_and_boxes(count, size, seed):
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, size, size), bool)
    for n in range(count):
        y, x = rng.integers(2, size - 8, 2)
        masks[n, y : y + rng.integers(3, 8), x : x + rng.integers(3, 8)] = True
    masks[-1] = False  # one image without an object: excluded, never counted
    return masks, regions.boxes_from_masks(masks)


def test_pxap_from_summed_pixel_counts_equals_pxap():
    maps = smooth_maps(12, 20, 0)
    masks, _ = masks_and_boxes(12, 20, 1)
    counts = wsol.pixel_counts(maps, masks)
    assert counts[-1].sum() == 0
    assert wsol.pxap_from_counts(counts.sum(axis=0)) == pytest.approx(wsol.pxap(maps, masks).value, abs=1e-12)
    # Vectorised over resamples: two stacked resamples give the two values.
    halves = np.stack([counts[:6].sum(axis=0), counts[6:].sum(axis=0)])
    expected = [wsol.pxap(maps[:6], masks[:6]).value, wsol.pxap(maps[6:], masks[6:]).value]
    np.testing.assert_allclose(wsol.pxap_from_counts(halves), expected, atol=1e-12)


def test_wsol_table_estimates_equal_the_direct_metrics():
    maps = smooth_maps(16, 24, 2)
    masks, boxes = masks_and_boxes(16, 24, 3)
    split = ImageSet(
        images=np.zeros((16, 24, 24, 3), np.uint8), labels=np.zeros(16, np.int64), ids=np.arange(16).astype(str),
        class_names=["a"], masks=masks, boxes=boxes,
    )
    evidence = scoring.wsol_evidence({"layer": maps}, split)  # maps already at image size: upsample is identity
    keys = {"dataset": "d", "model": "m", "method": "gradcam", "perturbation": "none", "severity": 0}
    grouped = {"best_iou": {"layer": evidence["best_iou:layer"]}, "pixel_counts": {"layer": evidence["pixel_counts:layer"]}}
    table = tables.wsol_table([(keys, grouped)], stats.BootstrapSettings(200), seed=0).set_index("metric")
    direct = wsol.max_box_acc_v2(maps, boxes)
    assert table.at["max_box_acc_v2", "value"] == pytest.approx(direct.value)
    for delta, value in zip(direct.deltas, direct.max_box_acc, strict=True):
        assert table.at[f"max_box_acc_{delta}", "value"] == pytest.approx(value)
    assert table.at["pxap", "value"] == pytest.approx(wsol.pxap(maps, masks).value)
    assert (table["n"] == 15).all()  # the image without an object is left out
    assert (table["ci_low"] <= table["value"]).all() and (table["value"] <= table["ci_high"]).all()
    assert isinstance(table, pd.DataFrame)
