import hashlib

import numpy as np
import pandas as pd
import pytest

from camsweep import plots
from camsweep.studies.segmentation_ablation import figures as segmentation_plots


def _examples(count=2, size=24, layer=3):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (count, size, size, 3), dtype=np.uint8)
    truth = np.zeros((count, size, size), bool)
    truth[:, 6:18, 5:16] = True
    predicted = np.roll(truth, 2, axis=2)
    raw = rng.random((count, layer, layer)) * 5
    raw[-1] = 0.0  # an all-zero map (empty predicted region) draws as zeros
    return images, truth, predicted, raw


def test_s1_panels_has_six_columns_per_example_and_a_colourbar(tmp_path):
    images, truth, predicted, raw = _examples(count=3)
    figure = segmentation_plots.map_panels(images, truth, predicted, raw, titles=["a", "b", "c"], method="ablationcam", layer="encoder4")
    assert len(figure.axes) == 3 * 6 + 1
    top = [axis.get_title() for axis in figure.axes[:6]]
    assert top == ["input", "ground truth", "prediction", "raw map (3×3)", "resized & smoothed (bilinear)", "overlay (α = 0.5)"]
    raw_panel = figure.axes[3].get_images()[0]
    assert raw_panel.get_array().shape == (3, 3) and raw_panel.get_interpolation() == "nearest"
    assert figure.axes[4].get_images()[0].get_array().shape == (24, 24)
    assert all(not axis.get_xticks().size for axis in figure.axes[:18])
    plots.save(figure, tmp_path / "panels.png")
    assert (tmp_path / "panels.png").stat().st_size > 0


def test_resized_map_is_bilinear_then_normalised_and_smoothing_is_optional():
    raw = np.array([[0.0, 2.0], [4.0, 6.0]])
    plain = segmentation_plots.resized_map(raw, (4, 4))
    # Bilinear on half-pixel centres, then min-max: row 0 of the 4×4 resize is 0, 0.5, 1.5, 2 → /6.
    np.testing.assert_allclose(plain[0], np.array([0.0, 0.5, 1.5, 2.0]) / 6.0, atol=1e-6)
    assert plain.min() == 0.0 and plain.max() == 1.0
    smoothed = segmentation_plots.resized_map(raw, (4, 4), smooth_sigma=1.0)
    assert smoothed.min() == 0.0 and smoothed.max() == 1.0 and not np.allclose(smoothed, plain)
    np.testing.assert_array_equal(segmentation_plots.resized_map(np.zeros((2, 2)), (4, 4)), 0.0)


def test_s1_panels_rejects_bad_inputs():
    images, truth, predicted, raw = _examples()
    with pytest.raises(ValueError, match="predicted masks"):
        segmentation_plots.map_panels(images, truth, predicted[:1], raw)
    with pytest.raises(ValueError, match="raw maps"):
        segmentation_plots.map_panels(images, truth, predicted, raw[:, 0])
    with pytest.raises(ValueError, match="titles"):
        segmentation_plots.map_panels(images, truth, predicted, raw, titles=["only one"])


def _summary(metrics=("dice", "iou", "map_rmse", "epg_remaining")):
    rows = []
    for occluded in ("foreground", "background"):
        for fraction in (0.0, 0.25, 0.5):
            for metric in metrics:
                mean = fraction if metric != "map_rmse" else 100 * fraction
                rows.append({"occluded": occluded, "fraction": fraction, "metric": metric,
                             "mean": mean, "ci_low": mean * 0.9, "ci_high": mean * 1.1})
    return pd.DataFrame(rows)


def test_occlusion_curves_one_panel_per_metric_two_lines_each(tmp_path):
    figure = segmentation_plots.occlusion_curves(_summary(), title="the segmentation-ablation study occlusion")
    assert len(figure.axes) == 4
    for axis in figure.axes:
        labels = [line.get_label() for line in axis.get_lines()]
        assert labels == ["foreground", "background"]
        np.testing.assert_array_equal(axis.get_lines()[0].get_xdata(), [0.0, 0.25, 0.5])
        assert len(axis.collections) == 2  # CI bands
    plots.save(figure, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_missing_metric_panel_says_not_computed():
    figure = segmentation_plots.occlusion_curves(_summary(metrics=("dice", "iou", "map_rmse")))
    assert len(figure.axes) == 4
    last = figure.axes[3]
    assert not last.get_lines()
    assert [text.get_text() for text in last.texts] == ["not computed"]
    with pytest.raises(ValueError, match="ci_low"):
        segmentation_plots.occlusion_curves(_summary().drop(columns="ci_low"))


def test_figures_are_deterministic(tmp_path):
    def digest(name, make):
        plots.save(make(), tmp_path / name)
        return hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()

    images, truth, predicted, raw = _examples()
    panels = lambda: segmentation_plots.map_panels(images, truth, predicted, raw)  # noqa: E731
    curves = lambda: segmentation_plots.occlusion_curves(_summary())  # noqa: E731
    assert digest("p1.png", panels) == digest("p2.png", panels)
    assert digest("c1.png", curves) == digest("c2.png", curves)
