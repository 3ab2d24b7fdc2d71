import numpy as np
import pandas as pd
import pytest

from camsweep import predictions, stats, tables
from camsweep.cams.targets import class_targets
from camsweep.scripting import from_argv


def test_command_line_fallback_builds_a_snakemake_like_job():
    job = from_argv(["--input", "images=a.npz", "b.npz", "--output", "out.npz",
                     "--params", "severity=3", "layers=[layer3, layer4]", "--threads", "2"])
    assert job.input.images == "a.npz" and job.input[0] == "b.npz" and job.input[1] == "a.npz"
    assert job.output[0] == "out.npz"
    assert job.params.severity == 3 and job.params.layers == ["layer3", "layer4"] and job.threads == 2
    with pytest.raises(AttributeError, match="no item named 'model'"):
        _ = job.input.model


def test_target_modes():
    labels, predicted, clean = np.array([0, 1]), np.array([1, 1]), np.array([0, 0])
    assert class_targets("predicted", labels, predicted, clean).tolist() == [1, 1]
    assert class_targets("clean_predicted", labels, predicted, clean).tolist() == [0, 0]
    assert class_targets("label", labels, predicted, clean).tolist() == [0, 1]
    with pytest.raises(ValueError, match="valid: predicted, clean_predicted, label"):
        class_targets("random", labels, predicted, clean)


def condition(perturbation, severity, probs, labels):
    frame = predictions.predictions_frame(np.array([f"i{k}" for k in range(len(labels))]), labels, probs)
    return tables.Condition({"dataset": "d", "model": "m", "perturbation": perturbation, "severity": severity}, frame)


def test_classification_table_by_hand():
    labels = np.array([1, 1, 0, 0])
    clean = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])  # perfectly ranked: AUC 1, accuracy 1
    noisy = np.array([[0.1, 0.9], [0.6, 0.4], [0.5, 0.5], [0.8, 0.2]])  # positives 0.9, 0.4; negatives 0.5, 0.2
    table = tables.classification_table(
        [condition("gaussian_noise", 2, noisy, labels), condition("none", 0, clean, labels)],
        stats.BootstrapSettings(n_resamples=200), seed=0,
    )
    assert table["perturbation"].tolist() == ["none", "gaussian_noise"]  # clean first, whatever the input order
    noisy_row = table.iloc[1]
    assert noisy_row["roc_auc"] == pytest.approx(0.75)  # 3 of 4 (positive, negative) pairs ordered
    assert noisy_row["delta_auc"] == pytest.approx(0.25)
    assert noisy_row["accuracy"] == pytest.approx(0.75)  # the 0.5/0.5 tie goes to class 0 (arg-max): correct
    assert table.iloc[0]["delta_auc"] == 0.0


def test_box_vs_mask_pairs_each_metric():
    means = {name: 0.01 * k for k, name in enumerate(sorted(set(sum(tables.BOX_MASK_PAIRS.values(), ()))))}
    cam = pd.DataFrame([
        {"dataset": "d", "model": "m", "method": "gradcam", "layer": "layer4", "perturbation": p, "severity": s,
         "metric": name, "n": 5, "n_nan": 0, "mean": mean + 0.5 * s, "ci_low": mean - 0.1, "ci_high": mean + 0.1}
        for name, mean in means.items() for p, s in (("none", 0), ("contrast", 2))
    ])
    paired = tables.box_vs_mask_table(cam).set_index("metric")
    assert len(paired) == len(tables.BOX_MASK_PAIRS)  # clean rows only
    for name, (box, mask) in tables.BOX_MASK_PAIRS.items():
        assert paired.at[name, "box"] == means[box] and paired.at[name, "mask"] == means[mask]
        assert paired.at[name, "mask_low"] == pytest.approx(means[mask] - 0.1)
    assert tables.BOX_MASK_PAIRS["mae"] == ("mae_box", "mae")


def test_score_maps_rows_per_image_and_layer():
    from camsweep import scoring
    from camsweep.data import ImageSet
    from camsweep.metrics.localisation import LocalisationSettings

    masks = np.zeros((2, 32, 32), bool)
    masks[:, 8:24, 8:24] = True
    split = ImageSet(images=np.zeros((2, 32, 32, 3), np.uint8), labels=np.array([0, 1]), ids=np.array(["a", "b"]),
                     class_names=("x", "y"), masks=masks, boxes=np.array([[8, 8, 23, 23]] * 2, np.int32))
    clean = np.zeros((2, 4, 4), np.float32)
    clean[:, 1:3, 1:3] = 1.0  # the centre of a 4×4 map: upsampled, it peaks inside the 16×16 square
    moved = clean.copy()
    moved[1] = 0.0
    moved[1, 0, 0] = 1.0  # image b's map jumps to a corner
    frame = scoring.score_maps({"l": moved}, {"l": clean}, split, LocalisationSettings(), targets=np.array([1, 0]))
    assert frame[["id", "label", "target", "layer"]].values.tolist() == [["a", 0, 1, "l"], ["b", 1, 0, "l"]]
    assert frame["pointing_game_mask"].tolist() == [1.0, 0.0]
    # b: normalised maps differ by 1 on 5 of 16 cells (4 centre cells, 1 corner) → RMSE = 255·√(5/16).
    assert frame["cam_rmse"].tolist() == pytest.approx([0.0, 255 * np.sqrt(5 / 16)])
    unmasked = ImageSet(images=split.images, labels=split.labels, ids=split.ids, class_names=split.class_names)
    assert scoring.score_maps({"l": moved}, {"l": clean}, unmasked, LocalisationSettings())["iou_mask"].isna().all()
    with pytest.raises(ValueError, match="layer 'l' has 1 maps for 2 images"):
        scoring.score_maps({"l": moved[:1]}, {"l": clean}, split, LocalisationSettings())
