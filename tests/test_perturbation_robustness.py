"""The robustness study's analysis, tables and figures on hand-made frames: image selection, RMSE means, the ΔAUC join,
the area under the ΔAUC–severity curve, and the four figures (axes per grid, files written)."""

import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import matplotlib.collections
import numpy as np
import pandas as pd
import pytest

from camsweep import io, plots, stats, tables
from camsweep.data import ImageSet, save_split
from camsweep.scripting import NamedList
from camsweep.studies.perturbation_robustness import analysis as s2
from camsweep.studies.perturbation_robustness import figures as s2_plots

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
SETTINGS = stats.BootstrapSettings(n_resamples=200, confidence=0.95)
LAYERS = ["layer1.0.conv2", "layer1.1.conv2", "layer2.0.conv2", "layer2.1.conv2",
          "layer3.0.conv2", "layer3.1.conv2", "layer4.0.conv2", "layer4.1.conv2"]


def _predictions(ids="abcdefgh", labels=(0, 1, 0, 0, 1, 2, 0, 1), correct=(1, 1, 0, 1, 1, 0, 1, 1)):
    labels = np.asarray(labels)
    frame = pd.DataFrame({"id": list(ids), "label": labels, "prediction": np.where(correct, labels, (labels + 1) % 3)})
    frame["correct"] = np.asarray(correct, bool)
    for k in range(3):
        frame[f"prob_{k}"] = np.float32(1 / 3)
    return frame


def test_select_images_takes_the_first_correct_images_of_each_class_in_split_order(caplog):
    predictions = _predictions()
    # Class 0: a, c (wrong), d, g → a, d; class 1: b, e, h → b, e; class 2: only f, misclassified → none.
    with caplog.at_level(logging.WARNING):
        selection = s2.select_images(predictions, per_class=2, source="preds.parquet")
    assert selection.ids.tolist() == ["a", "b", "d", "e"]
    assert selection.counts == {0: 2, 1: 2, 2: 0}
    assert selection.short == {2: 0}
    assert "preds.parquet" in caplog.text and "[2]" in caplog.text

    more = s2.select_images(predictions, per_class=5)
    assert more.ids.tolist() == ["a", "b", "d", "e", "g", "h"]
    assert more.counts == {0: 3, 1: 3, 2: 0} and more.short == {0: 3, 1: 3, 2: 0}

    one = s2.select_images(predictions.iloc[::-1].reset_index(drop=True), per_class=1)  # order is the frame's
    assert one.ids.tolist() == ["h", "g"] and one.short == {2: 0}


def test_select_images_rejects_bad_input():
    with pytest.raises(ValueError, match="positive integer"):
        s2.select_images(_predictions(), per_class=0)
    with pytest.raises(ValueError, match="lack columns"):
        s2.select_images(_predictions().drop(columns="correct"), per_class=1, source="p.parquet")
    with pytest.raises(ValueError, match="duplicate image ids"):
        s2.select_images(_predictions(ids="aacdefgh"), per_class=1)


def _scores(values: dict[str, dict[str, float]], labels: dict[str, int], layers=("L1", "L2")) -> pd.DataFrame:
    """A score_maps-like frame: rows per (layer, image) with cam_rmse = values[layer][id]."""
    rows = [{"id": i, "label": labels[i], "target": labels[i], "layer": layer, "iou_box": 0.5,
             "cam_rmse": values[layer][i]} for layer in layers for i in labels]
    return pd.DataFrame(rows)


LABELS = {"a": 0, "b": 1, "c": 0, "d": 0, "e": 1}


def _classification_table():
    rows = [
        ("ds", "m", "none", 0, 0.0), ("ds", "m", "blur", 1, 0.11), ("ds", "m", "blur", 2, 0.12),
        ("ds", "m", "noise", 1, 0.21), ("ds", "other", "blur", 1, 0.99),  # another model's condition: must not be taken
    ]
    frame = pd.DataFrame(rows, columns=["dataset", "model", "perturbation", "severity", "delta_auc"])
    return frame.assign(roc_auc=0.9, delta_auc_low=frame["delta_auc"] - 0.05, delta_auc_high=frame["delta_auc"] + 0.05)


def _conditions():
    # RMSE per layer and image; c is not selected and gets an extreme value that would show in any mean.
    base = {"L1": {"a": 1.0, "b": 10.0, "c": 1000.0, "d": 3.0, "e": 20.0},
            "L2": {"a": 5.0, "b": 2.0, "c": 1000.0, "d": 9.0, "e": 4.0}}
    def scaled(factor):
        return {layer: {i: v * factor for i, v in per.items()} for layer, per in base.items()}
    keys = {"dataset": "ds", "model": "m", "method": "gradcam++"}
    return [
        tables.Condition({**keys, "perturbation": "none", "severity": 0}, _scores(scaled(0.0), LABELS)),
        tables.Condition({**keys, "perturbation": "blur", "severity": 1}, _scores(scaled(1.0), LABELS)),
        tables.Condition({**keys, "perturbation": "blur", "severity": 2}, _scores(scaled(2.0), LABELS)),
        tables.Condition({**keys, "perturbation": "noise", "severity": 1}, _scores(scaled(3.0), LABELS)),
    ]


SELECTED = {("ds", "m"): ["a", "b", "d", "e"]}


def test_rmse_frame_keeps_the_selection_skips_clean_and_joins_the_conditions_delta_auc():
    frame = s2.rmse_frame(_conditions(), SELECTED, _classification_table(), layers=["L2", "L1"])
    assert list(frame.columns) == list(s2.FRAME_COLUMNS)
    assert len(frame) == 3 * 2 * 4  # three perturbed conditions × two layers × four selected images
    assert set(frame["id"]) == {"a", "b", "d", "e"} and "none" not in set(frame["perturbation"])
    deltas = frame.groupby(["perturbation", "severity"])["delta_auc"].unique()
    assert {k: v.tolist() for k, v in deltas.items()} == {("blur", 1): [0.11], ("blur", 2): [0.12], ("noise", 1): [0.21]}
    # Layers in the given order (L2 first), images in split order within a layer.
    first = frame[(frame["perturbation"] == "blur") & (frame["severity"] == 1)]
    assert first["layer"].tolist() == ["L2"] * 4 + ["L1"] * 4 and first["layer_index"].tolist() == [0] * 4 + [1] * 4
    assert first["id"].tolist() == ["a", "b", "d", "e"] * 2
    assert first["cam_rmse"].tolist() == [5.0, 2.0, 9.0, 4.0, 1.0, 10.0, 3.0, 20.0]
    only_l1 = s2.rmse_frame(_conditions(), SELECTED, _classification_table(), layers={"m": ["L1"]})
    assert set(only_l1["layer"]) == {"L1"} and len(only_l1) == 12


def test_rmse_frame_errors_name_what_is_missing():
    conditions, table = _conditions(), _classification_table()
    with pytest.raises(ValueError, match=r"ds/m/gradcam\+\+/noise/1: the classification table has no row"):
        s2.rmse_frame(conditions, SELECTED, table[table["perturbation"] != "noise"])
    with pytest.raises(ValueError, match=r"lack layer\(s\) \['L9'\]"):
        s2.rmse_frame(conditions, SELECTED, table, layers=["L1", "L9"])
    with pytest.raises(ValueError, match="lack 1 selected image"):
        s2.rmse_frame(conditions, {("ds", "m"): ["a", "zz"]}, table)
    with pytest.raises(ValueError, match="no image selection"):
        s2.rmse_frame(conditions, {("ds", "x"): ["a"]}, table)
    other = tables.Condition({**conditions[1].keys, "method": "gradcam"}, conditions[1].frame)
    with pytest.raises(ValueError, match="one CAM method"):
        s2.rmse_frame([*conditions, other], SELECTED, table)


def test_rmse_table_means_by_hand_and_seeding_keyed_by_group():
    frame = s2.rmse_frame(_conditions(), SELECTED, _classification_table())
    table = s2.rmse_table(frame, SETTINGS, seed=3)
    assert len(table) == 3 * 2 * 2  # conditions × layers × classes
    row = table.set_index(["perturbation", "severity", "layer", "label"])
    # Class 0 = {a, d}, class 1 = {b, e}; blur 1 at L1: (1 + 3)/2 and (10 + 20)/2; blur 2 doubles; noise triples.
    assert row.loc[("blur", 1, "L1", 0), "mean"] == pytest.approx(2.0)
    assert row.loc[("blur", 1, "L1", 1), "mean"] == pytest.approx(15.0)
    assert row.loc[("blur", 1, "L2", 0), "mean"] == pytest.approx(7.0)
    assert row.loc[("blur", 2, "L2", 1), "mean"] == pytest.approx(6.0)
    assert row.loc[("noise", 1, "L1", 1), "mean"] == pytest.approx(45.0)
    assert row.loc[("noise", 1, "L1", 1), "delta_auc"] == pytest.approx(0.21)
    assert (table["n"] == 2).all() and (table["n_nan"] == 0).all()
    assert (table["ci_low"] <= table["mean"]).all() and (table["mean"] <= table["ci_high"]).all()
    # Within the observed values of two images: [min, max] of the pair.
    assert 1.0 <= row.loc[("blur", 1, "L1", 0), "ci_low"] and row.loc[("blur", 1, "L1", 0), "ci_high"] <= 3.0
    # Same table whatever the row order (generators are keyed by the group, not by position).
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    pd.testing.assert_frame_equal(s2.rmse_table(shuffled, SETTINGS, seed=3), table)
    # A group's interval does not depend on which other groups are in the table.
    alone = s2.rmse_table(frame[frame["perturbation"] == "noise"], SETTINGS, seed=3)
    pd.testing.assert_frame_equal(alone, table[table["perturbation"] == "noise"].reset_index(drop=True))
    # Rows follow the layer order, not the alphabet.
    reordered = s2.rmse_table(s2.rmse_frame(_conditions(), SELECTED, _classification_table(), ["L2", "L1"]), SETTINGS, 3)
    assert reordered["layer"].tolist()[:4] == ["L2", "L2", "L1", "L1"]
    assert reordered[["perturbation", "severity"]].drop_duplicates().values.tolist() == [["blur", 1], ["blur", 2], ["noise", 1]]


def test_severity_summary_averages_layers_per_image_then_images():
    frame = s2.rmse_frame(_conditions(), SELECTED, _classification_table())
    summary = s2.severity_summary(frame, _classification_table(), SETTINGS, seed=0).set_index(["perturbation", "severity"])
    # blur 1 per image over L1, L2: a 3, b 6, d 6, e 12 → 6.75.
    assert summary.loc[("blur", 1), "rmse"] == pytest.approx(6.75)
    assert summary.loc[("blur", 2), "rmse"] == pytest.approx(13.5)
    assert summary.loc[("noise", 1), "rmse"] == pytest.approx(20.25)
    assert summary.loc[("noise", 1), "n"] == 4
    assert summary.loc[("blur", 2), "delta_auc"] == pytest.approx(0.12)
    assert summary.loc[("blur", 2), "delta_auc_low"] == pytest.approx(0.07)
    assert (summary["rmse_low"] <= summary["rmse"]).all() and (summary["rmse"] <= summary["rmse_high"]).all()


def test_area_under_severity_is_the_trapezoid_from_zero():
    deltas = [0.1, 0.2, 0.2, 0.4, 0.5]
    rows = [("ds", "m", "none", 0, 0.0)] + [("ds", "m", "blur", s, d) for s, d in zip(range(5, 0, -1), deltas[::-1], strict=True)]
    rows += [("ds", "m", "noise", 2, 0.3), ("ds", "m", "noise", 4, -0.1), ("ds", "x", "blur", 1, 1.0)]
    table = pd.DataFrame(rows, columns=["dataset", "model", "perturbation", "severity", "delta_auc"])
    area = s2.area_under_severity(table, models=[("ds", "m")]).set_index("perturbation")
    # 0→1: (0 + .1)/2, 1→2: (.1 + .2)/2, 2→3: .2, 3→4: (.2 + .4)/2, 4→5: (.4 + .5)/2 → 1.15.
    assert area.loc["blur", "value"] == pytest.approx(0.05 + 0.15 + 0.2 + 0.3 + 0.45)
    # Uneven spacing: 0→2: 2·(0 + .3)/2, 2→4: 2·(.3 − .1)/2 → 0.5.
    assert area.loc["noise", "value"] == pytest.approx(0.5)
    assert area.loc["blur", "severities"] == "0,1,2,3,4,5" and area.loc["noise", "severities"] == "0,2,4"
    assert (area["metric"] == "area under the ΔAUC–severity curve").all()
    assert set(area["model"]) == {"m"}
    assert len(s2.area_under_severity(table)) == 3


def _synthetic_frame(models=("plain", "augmented"), perturbations=("contrast", "gaussian_noise"), severities=(1, 2, 3),
                     layers=tuple(LAYERS)):
    """Per-image rows for the figures: 8 layers, 2 classes of 3 images, RMSE growing with layer and severity."""
    rng = np.random.default_rng(0)
    rows = []
    for model_index, model in enumerate(models):
        for p_index, perturbation in enumerate(perturbations):
            for severity in severities:
                delta = 0.05 * severity * (p_index + 1) / (model_index + 1)
                for layer_index, layer in enumerate(layers):
                    for k in range(6):
                        rows.append({"dataset": "ds", "model": model, "layer_index": layer_index, "layer": layer,
                                     "perturbation": perturbation, "severity": severity, "id": f"img{k}", "label": k % 2,
                                     "cam_rmse": 5.0 * severity + 2.0 * layer_index + rng.normal(0, 2), "delta_auc": delta})
    return pd.DataFrame(rows, columns=list(s2.FRAME_COLUMNS))


def _classification_from(frame):
    table = frame.drop_duplicates(s2.CONDITION_KEYS)[s2.CONDITION_KEYS + ["delta_auc"]]
    return table.assign(delta_auc_low=table["delta_auc"] - 0.02, delta_auc_high=table["delta_auc"] + 0.02)


def _save_and_check(figure, tmp_path, name):
    paths = [tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"]
    plots.save(figure, *paths)
    for path in paths:
        assert path.stat().st_size > 10_000, path


def test_figures_have_one_axis_per_grid_cell_and_are_written(tmp_path):
    frame = _synthetic_frame(severities=(1, 2))
    plain = frame[frame["model"] == "plain"]
    table = s2.rmse_table(plain, stats.BootstrapSettings(n_resamples=50), seed=0)

    figure = s2_plots.rmse_vs_layer(table, "RMSE vs layer", class_names=["benign", "malignant"])
    assert len(figure.axes) == 2 * 2  # severities × perturbations
    assert [t.get_text() for t in figure.axes[-1].get_xticklabels()] == LAYERS  # bottom row: layers in order
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["benign", "malignant"]
    assert len(figure.axes[0].get_lines()) == 2  # one line per class
    _save_and_check(figure, tmp_path, "layers")

    figure = s2_plots.rmse_vs_delta_auc(plain, "by severity")
    assert len(figure.axes) == 2 * 8  # severities × layers
    assert figure.axes[0].get_title() == LAYERS[0] and figure.axes[7].get_title() == LAYERS[7]
    _save_and_check(figure, tmp_path, "by_severity")

    figure = s2_plots.rmse_vs_delta_auc(plain, "by layer", transpose=True)
    assert len(figure.axes) == 8 * 2  # layers × severities
    assert figure.axes[0].get_title() == "severity 1"
    _save_and_check(figure, tmp_path, "by_layer")

    summary = s2.severity_summary(frame, _classification_from(frame), stats.BootstrapSettings(n_resamples=50), seed=0)
    figure = s2_plots.augmentation_comparison(summary, ["plain", "augmented"], "aug", labels={"augmented": "with augmentation"})
    assert len(figure.axes) == 2 * 2  # (ΔAUC, RMSE) × perturbations
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["plain", "with augmentation"]
    line = figure.axes[0].get_lines()[0]  # plain, contrast, ΔAUC: starts at (0, 0)
    np.testing.assert_allclose(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), [0, 0.05, 0.10])
    _save_and_check(figure, tmp_path, "augmentation")


def test_scatter_points_sit_at_the_conditions_delta_auc_with_deterministic_jitter(tmp_path):
    frame = _synthetic_frame(models=("plain",), severities=(1, 2), layers=LAYERS[:2])
    def offsets(figure, axis_index):
        axis = figure.axes[axis_index]
        return [c.get_offsets().copy() for c in axis.collections if isinstance(c, matplotlib.collections.PathCollection)]
    first, second = (s2_plots.rmse_vs_delta_auc(frame, "t") for _ in range(2))
    # Panel (severity 2, second layer): contrast ΔAUC 0.10, gaussian_noise 0.20; that severity's span 0.10, so
    # boxes 0.004 wide, jitter within ±0.35 · 0.004, x axis 0.15 ± 0.6 · 0.10.
    a, b = offsets(first, 1 * 2 + 1), offsets(second, 1 * 2 + 1)
    assert len(a) == 2 and all(len(points) == 6 for points in a)
    for points, delta in zip(a, (0.10, 0.20), strict=True):
        assert np.all(np.abs(points[:, 0] - delta) <= 0.35 * 0.004 + 1e-12)
        assert np.ptp(points[:, 0]) > 0  # jittered
    np.testing.assert_allclose(first.axes[3].get_xlim(), (0.09, 0.21))
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p, q)
    # Same bytes for the same figure (fixed metadata).
    plots.save(first, tmp_path / "one.png")
    plots.save(second, tmp_path / "two.png")
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()


def _job(inputs, outputs, params, wildcards=None):
    return SimpleNamespace(input=NamedList([], inputs), output=NamedList([], outputs), params=SimpleNamespace(**params),
                           wildcards=NamedList([], wildcards or {}), log=[], threads=1, rule="test")


def test_scripts_read_the_pipeline_layout_and_write_every_output(tmp_path):
    results = tmp_path / "results"
    score_paths, score_keys, prediction_paths, prediction_keys = [], [], [], []
    for model in ("plain", "augmented"):
        predictions = _predictions(ids="abcde", labels=[0, 1, 0, 0, 1], correct=[1, 1, 0, 1, 1])
        path = results / "predictions" / "ds" / model / "none" / "0.parquet"
        io.save_parquet(path, predictions)
        prediction_paths.append(str(path))
        prediction_keys.append({"dataset": "ds", "model": model})
        for condition in _conditions():
            k = condition.keys
            path = results / "metrics" / "ds" / model / k["method"] / k["perturbation"] / f"{k['severity']}.parquet"
            io.save_parquet(path, condition.frame)
            score_paths.append(str(path))
            score_keys.append({**k, "model": model})
    classification = _classification_table()
    classification = pd.concat([classification, classification[classification["model"] == "m"].assign(model="plain"),
                                classification[classification["model"] == "m"].assign(model="augmented")])
    io.save_csv(results / "tables" / "classification.csv", classification)
    tables_dir = results / "tables"
    outputs = {name: str(tables_dir / file) for name, file in (
        ("rmse", "s2_rmse.csv"), ("area", "s2_delta_auc_area.csv"), ("summary", "s2_summary.csv"),
        ("images", "s2_rmse_images.parquet"), ("provenance", "s2.provenance.json"))}
    params = {"scores": score_keys, "predictions": prediction_keys, "per_class": 2, "layers": {"plain": ["L1", "L2"], "augmented": ["L1", "L2"]},
              "aggregate": {"bootstrap_resamples": 50, "confidence": 0.95}, "seed": 0}
    job = _job({"scores": score_paths, "predictions": prediction_paths, "classification": str(tables_dir / "classification.csv")},
               outputs, params)
    runpy.run_path(str(SCRIPTS / "robustness_tables.py"), init_globals={"snakemake": job})
    rmse = pd.read_csv(outputs["rmse"])
    assert set(rmse["model"]) == {"plain", "augmented"} and len(rmse) == 2 * 3 * 2 * 2
    assert rmse.set_index(["model", "perturbation", "severity", "layer", "label"]).loc[("plain", "blur", 1, "L1", 1), "mean"] == 15.0
    area = pd.read_csv(outputs["area"])
    assert set(area["model"]) == {"plain", "augmented"}  # only the robustness study models, not "m" or "other"
    assert area.set_index(["model", "perturbation"]).loc[("plain", "blur"), "value"] == pytest.approx(0.11 / 2 + 0.23 / 2)
    record = io.load_parquet_meta(outputs["images"])
    assert record["params"]["per_class"] == 2
    provenance = pd.read_json(outputs["provenance"], typ="series")
    assert provenance["selection"] == {"ds/augmented": {"0": 2, "1": 2}, "ds/plain": {"0": 2, "1": 2}}

    figures = tmp_path / "figures"
    names = ("layers", "by_severity", "by_layer")
    figure_outputs = {f"{n}_{fmt}": str(figures / f"{n}.{fmt}") for n in names for fmt in ("png", "pdf")}
    split = tmp_path / "test.npz"
    save_split(split, ImageSet(images=np.zeros((2, 4, 4, 3), np.uint8), labels=np.array([0, 1]),
                               ids=np.array(["a", "b"]), class_names=("zero", "one")))
    job = _job({"images": outputs["images"], "rmse": outputs["rmse"], "split": str(split)}, figure_outputs,
               {"method": "gradcam++"}, {"dataset": "ds", "model": "plain"})
    runpy.run_path(str(SCRIPTS / "figure_robustness.py"), init_globals={"snakemake": job})
    augmentation = {fmt: str(figures / f"augmentation.{fmt}") for fmt in ("png", "pdf")}
    job = _job({"summary": outputs["summary"]}, augmentation, {"augmented": {"plain": False, "augmented": True}},
               {"dataset": "ds"})
    runpy.run_path(str(SCRIPTS / "figure_robustness_augmentation.py"), init_globals={"snakemake": job})
    for path in [*figure_outputs.values(), *augmentation.values()]:
        assert Path(path).stat().st_size > 5_000, path
