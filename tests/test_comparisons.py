"""Paired method comparisons: Holm's step-down by hand, Wilcoxon wiring, pairing rules, determinism."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from camsweep import comparisons as cmp

# --- Holm ---------------------------------------------------------------------------------------------


def test_holm_hand_example_with_ties_and_monotonicity():
    # Sorted: 0.005, 0.01, 0.03, 0.03, 0.04 with multipliers 5, 4, 3, 2, 1 → 0.025, 0.04, 0.09, 0.06, 0.04;
    # the running maximum lifts the second 0.03 (tie) and 0.04 to 0.09.
    p = [0.01, 0.04, 0.03, 0.03, 0.005]
    np.testing.assert_allclose(cmp.holm_adjust(p), [0.04, 0.09, 0.09, 0.09, 0.025])


def test_holm_caps_at_one_and_skips_nan():
    np.testing.assert_allclose(cmp.holm_adjust([0.5, 0.6]), [1.0, 1.0])
    np.testing.assert_allclose(cmp.holm_adjust([np.nan, 0.02, 0.04]), [np.nan, 0.04, 0.04])  # m = 2
    assert np.isnan(cmp.holm_adjust([np.nan, np.nan])).all()
    assert cmp.holm_adjust([]).shape == (0,)
    np.testing.assert_allclose(cmp.holm_adjust([0.03]), [0.03])


def test_holm_rejects_invalid_p():
    with pytest.raises(ValueError):
        cmp.holm_adjust([0.5, 1.5])


def test_holm_properties(rng):
    p = rng.random(40) ** 3
    adjusted = cmp.holm_adjust(p)
    order = np.argsort(p)
    assert np.all(np.diff(adjusted[order]) >= 0)  # same order as the raw p-values
    assert np.all(adjusted >= p) and np.all(adjusted <= 1)
    assert np.all(adjusted <= np.minimum(1, len(p) * p) + 1e-15)  # never worse than Bonferroni


def test_holm_matches_statsmodels_if_installed(rng):
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = rng.random(25) ** 2
    np.testing.assert_allclose(cmp.holm_adjust(p), multitest.multipletests(p, method="holm")[1])


# --- Wilcoxon -----------------------------------------------------------------------------------------


def test_signed_rank_hand_example():
    # |d| ranks are 1..7; positive ranks 1+3+4+5+7 = 20, negative 2+6 = 8, so the statistic is 8.
    # Exact null: subsets of {1..7} with rank sum ≤ 8 number 1+1+1+2+2+3+4+5+5 = 24 (sums 0..8), so
    # p = 2 · 24 / 2⁷ = 0.375.
    d = np.array([1.0, -2.0, 3.0, 4.0, 5.0, -6.0, 7.0])
    result = cmp.signed_rank_test(d)
    assert result["statistic"] == 8.0
    assert result["p_value"] == pytest.approx(0.375)
    positive_sums = [sum(r for r, s in zip(range(1, 8), signs, strict=True) if s)
                     for signs in itertools.product([0, 1], repeat=7)]
    assert np.mean(np.minimum(positive_sums, 28 - np.array(positive_sums)) <= 8) == pytest.approx(0.375)
    assert result["n"] == 7 and result["n_nonzero"] == 7
    assert result["median_difference"] == 3.0 and result["mean_difference"] == pytest.approx(12 / 7)


def test_signed_rank_zeros_are_discarded():
    d = np.array([0.0, 0.0, 1.0, -2.0, 3.0, 4.0, 5.0, -6.0, 7.0])
    result = cmp.signed_rank_test(d)
    assert result["statistic"] == 8.0 and result["p_value"] == pytest.approx(0.375)
    assert result["n"] == 9 and result["n_nonzero"] == 7
    assert result["median_difference"] == 1.0  # zeros count in the effect sizes: median of 9 values


def test_signed_rank_degenerate_cases():
    few = cmp.signed_rank_test(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert few["n"] == 5 and np.isnan(few["p_value"]) and np.isnan(few["statistic"])
    zeros = cmp.signed_rank_test(np.zeros(10))
    assert zeros["p_value"] == 1.0 and zeros["statistic"] == 0.0
    empty = cmp.signed_rank_test(np.array([]))
    assert empty["n"] == 0 and np.isnan(empty["median_difference"]) and np.isnan(empty["p_value"])


# --- the comparison frame -----------------------------------------------------------------------------


def make_frame(rng, n_images=15):
    rows = []
    for perturbation, severity in (("clean", 0), ("blur", 3)):
        for layer in ("layer3", "layer4"):
            base = rng.random(n_images)
            for method, shift in (("gradcam", 0.0), ("scorecam", 0.2), ("eigencam", -0.05)):
                values = np.clip(base + shift + 0.05 * rng.standard_normal(n_images), 0, 1.5)
                for i in range(n_images):
                    rows.append({"id": f"img{i:03d}", "method": method, "layer": layer, "perturbation": perturbation,
                                 "severity": severity, "iou": values[i], "pointing": float(values[i] > 0.5)})
    return pd.DataFrame(rows)


def test_frame_shape_order_and_wiring(rng):
    frame = make_frame(rng)
    result = cmp.paired_comparisons(frame, ["iou", "pointing"])
    assert list(result.columns) == ["perturbation", "severity", "layer", *cmp.RESULT_COLUMNS]
    assert len(result) == 2 * 2 * 2 * 3  # conditions × layers × metrics × pairs
    keys = ["perturbation", "severity", "layer", "metric", "method_a", "method_b"]
    assert result.equals(result.sort_values(keys).reset_index(drop=True))
    assert (result["method_a"] < result["method_b"]).all()

    row = result.query("perturbation == 'blur' and layer == 'layer4' and metric == 'iou' "
                       "and method_a == 'gradcam' and method_b == 'scorecam'").iloc[0]
    pick = frame.query("perturbation == 'blur' and layer == 'layer4'").set_index(["method", "id"])["iou"]
    d = (pick["gradcam"] - pick["scorecam"]).sort_index().to_numpy()
    expected = stats.wilcoxon(d, zero_method="wilcox")
    assert row["statistic"] == expected.statistic and row["p_value"] == expected.pvalue
    assert row["mean_difference"] == pytest.approx(d.mean()) and row["median_difference"] == np.median(d)
    assert row["n"] == 15 and row["significant"]  # scorecam is shifted by +0.2


def test_holm_family_is_one_condition_by_default(rng):
    result = cmp.paired_comparisons(make_frame(rng), ["iou", "pointing"])
    for _, family in result.groupby(["perturbation", "severity"]):
        assert len(family) == 12  # 3 pairs × 2 metrics × 2 layers
        np.testing.assert_allclose(family["p_holm"], cmp.holm_adjust(family["p_value"].to_numpy()))
    assert (result["significant"] == (result["p_holm"] < 0.05)).all()

    per_layer = cmp.paired_comparisons(make_frame(np.random.default_rng(1234)), ["iou", "pointing"],
                                       family_keys=["perturbation", "severity", "layer"])
    for _, family in per_layer.groupby(["perturbation", "severity", "layer"]):
        np.testing.assert_allclose(family["p_holm"], cmp.holm_adjust(family["p_value"].to_numpy()))
    everything = cmp.paired_comparisons(make_frame(np.random.default_rng(1234)), ["iou"], family_keys=())
    np.testing.assert_allclose(everything["p_holm"], cmp.holm_adjust(everything["p_value"].to_numpy()))


def test_nan_and_missing_images_drop_their_pairs(rng):
    frame = make_frame(rng)
    clean4 = (frame["perturbation"] == "clean") & (frame["layer"] == "layer4")
    frame.loc[clean4 & (frame["method"] == "gradcam") & (frame["id"] == "img000"), "iou"] = np.nan
    frame = frame.drop(frame.index[clean4 & (frame["method"] == "eigencam") & (frame["id"] == "img001")])
    result = cmp.paired_comparisons(frame, ["iou"]).query("perturbation == 'clean' and layer == 'layer4'")
    n = result.set_index(["method_a", "method_b"])["n"]
    assert n[("gradcam", "scorecam")] == 14  # NaN on one side
    assert n[("eigencam", "scorecam")] == 14  # image missing for one method
    assert n[("eigencam", "gradcam")] == 13  # both


def test_too_few_pairs_leave_the_family(rng):
    frame = make_frame(rng, n_images=5)
    result = cmp.paired_comparisons(frame, ["iou"])
    assert result["p_value"].isna().all() and result["p_holm"].isna().all() and not result["significant"].any()
    result = cmp.paired_comparisons(frame, ["iou"], min_pairs=5)
    assert result["p_value"].notna().all()


def test_identical_methods_give_p_one(rng):
    frame = make_frame(rng)
    twin = frame[frame["method"] == "gradcam"].assign(method="gradcam_copy")
    result = cmp.paired_comparisons(pd.concat([frame, twin]), ["iou"])
    same = result[(result["method_a"] == "gradcam") & (result["method_b"] == "gradcam_copy")]
    assert (same["p_value"] == 1.0).all() and (same["statistic"] == 0.0).all() and (same["n_nonzero"] == 0).all()


def test_csv_is_byte_identical_across_reruns_and_row_orders(rng):
    frame = make_frame(rng)
    first = cmp.paired_comparisons(frame, ["iou", "pointing"]).to_csv(index=False)
    assert cmp.paired_comparisons(frame, ["iou", "pointing"]).to_csv(index=False) == first
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert cmp.paired_comparisons(shuffled, ["iou", "pointing"]).to_csv(index=False) == first


def test_degenerate_frames(rng):
    frame = make_frame(rng)
    single = cmp.paired_comparisons(frame[frame["method"] == "gradcam"], ["iou"])
    assert single.empty and list(single.columns) == ["perturbation", "severity", "layer", *cmp.RESULT_COLUMNS]
    assert cmp.paired_comparisons(frame.iloc[:0], ["iou"]).empty
    no_conditions = cmp.paired_comparisons(frame[frame["perturbation"] == "clean"], ["iou"], condition_keys=())
    assert list(no_conditions.columns[:2]) == ["layer", "metric"] and len(no_conditions) == 6


def test_invalid_frames_raise(rng):
    frame = make_frame(rng)
    with pytest.raises(ValueError, match="lacks"):
        cmp.paired_comparisons(frame, ["dice"])
    with pytest.raises(ValueError, match="ambiguous"):
        cmp.paired_comparisons(pd.concat([frame, frame.iloc[:1]]), ["iou"])
    with pytest.raises(ValueError, match="family_keys"):
        cmp.paired_comparisons(frame, ["iou"], family_keys=["metric"])
