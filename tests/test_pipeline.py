"""The whole pipeline on a tiny config, end to end, in a temporary directory."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from camsweep import io, tables

BASELINES = ("random", "centre", "uniform")

pytestmark = pytest.mark.pipeline
ROOT = Path(__file__).resolve().parents[1]


def snakemake(workdir, *args, config="tiny.yaml"):
    """Snakemake on `workdir` with its own Snakefile where it is a copy of the repository (tiny_run)."""
    snakefile = workdir / "Snakefile" if (workdir / "Snakefile").exists() else ROOT / "Snakefile"
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir),
         "--configfile", str(workdir / config), "--cores", "2", *args],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planned_jobs(output):
    """{rule: count} from the job-stats table of a (dry) run."""
    table = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_every_table_and_figure_is_produced(tiny_run):
    results = tiny_run / "results"
    classification = pd.read_csv(results / "tables/classification.csv")
    assert list(zip(classification["perturbation"], classification["severity"], strict=True)) == [
        ("none", 0), ("contrast", 2), ("gaussian_noise", 1), ("gaussian_noise", 3)]
    clean = classification.iloc[0]
    assert clean["delta_auc"] == 0 and clean["n"] == 12
    cam = pd.read_csv(results / "tables/cam_metrics.csv")
    # (4 methods and 3 baselines × 2 layers + scorecam on layer4 only) × conditions × scores
    assert len(cam) == (7 * 2 + 1) * 4 * len(tables.SCORE_COLUMNS)
    assert set(cam.loc[cam["method"] == "scorecam", "layer"]) == {"layer4"}
    rmse = cam[(cam["metric"] == "cam_rmse") & (cam["perturbation"] == "none")]
    assert (rmse["mean"] == 0).all()
    box_vs_mask = pd.read_csv(results / "tables/box_vs_mask.csv")
    assert set(box_vs_mask["metric"]) == {"iou", "le", "pointing_game", "energy_pg", "f1", "soft_f", "mae"}
    table1 = pd.read_csv(results / "tables/s4_table1.csv")
    assert list(table1["metric"].unique()) == ["LE", "MLE", "EPG", "MEPG", "F1", "MF1"]
    epg = table1[table1["metric"] == "EPG"]
    assert (epg["corrected"] == epg["seed"]).all()  # EPG had no bug to reproduce
    wsol = pd.read_csv(results / "tables/wsol.csv")
    assert set(wsol["metric"]) == {"max_box_acc_0.3", "max_box_acc_0.5", "max_box_acc_0.7", "max_box_acc_v2", "pxap"}
    assert wsol["value"].between(0, 1).all() and (wsol["n"] == 12).all()
    faithfulness = pd.read_csv(results / "tables/faithfulness.csv")
    assert set(faithfulness["layer"]) == {"layer4"} and len(faithfulness) == 8 * 8  # methods and baselines × scores
    sanity = pd.read_csv(results / "tables/sanity.csv")
    assert set(sanity["method"]) == {"gradcam", "gradcam++", "eigencam", "scorecam", "ablationcam", *BASELINES}
    ignores_the_model = sanity[(sanity["method"] == "random") & (sanity["metric"] == "rank_correlation")]
    assert (ignores_the_model["mean"] == 1).all() and ignores_the_model["fails_check"].all()
    cascade = pd.read_csv(results / "tables/cascading_randomisation.csv")
    blocks = cascade.drop_duplicates("step").sort_values("step")["block"].tolist()
    assert blocks == ["layer4", "layer3"]  # models.r18.blocks
    assert len(cascade) == len(sanity) // sanity["metric"].nunique() * 2 * len(blocks)  # × variants × steps
    step0 = cascade[(cascade["variant"] == "cascading") & (cascade["step"] == 0)].set_index(["method", "layer"])
    verdicts = sanity.drop_duplicates(["method", "layer"]).set_index(["method", "layer"])["fails_check"]
    pd.testing.assert_series_equal(step0["fails_check"].loc[verdicts.index], verdicts)  # the check is step 0
    randomised, _ = io.load_npz(results / "sanity/tiny/r18/gradcam.randomised.npz")
    assert set(randomised) == {"layer3", "layer4", "ids", "targets"} and len(randomised["ids"]) == 12
    comparisons = pd.read_csv(results / "tables/method_comparisons.csv")
    assert comparisons["p_holm"].dropna().between(0, 1).all()
    between_methods = comparisons[~comparisons["versus_baseline"]]
    assert (between_methods["method_a"] < between_methods["method_b"]).all()
    versus = comparisons[comparisons["versus_baseline"]]  # each method against each baseline, never two baselines
    assert set(versus["method_b"]) == set(BASELINES) and not versus["method_a"].isin(BASELINES).any()
    reliability = pd.read_csv(results / "tables/metric_reliability.csv")
    assert set(reliability["method"]) == {"gradcam", "gradcam++", "eigencam", "scorecam", "ablationcam"}
    assert {"energy_pg_mask", "insertion_auc", "road_morf"} <= set(reliability["metric"])
    for other in ("randomised", *BASELINES):
        assert reliability[f"separation_{other}"].dropna().between(-1, 1).all()
    assert (reliability.loc[reliability["metric"] == "energy_pg_mask", "n_randomised"] == 12).all()
    for figure in ("training", "classification", "stability", "box_vs_mask", "examples", "cascading_randomisation",
                   "metric_reliability"):
        for ext in ("png", "pdf"):
            assert (results / f"figures/tiny/r18/{figure}.{ext}").stat().st_size > 1000
    for figure in ("s1/useg/ablationcam", "s1/useg/gradcam", "s1/useg/occlusion", "shortcut/tiny/r18"):
        for ext in ("png", "pdf"):
            assert (results / f"figures/{figure}.{ext}").stat().st_size > 1000
    for log in (results / "logs").rglob("*.log"):
        assert "Traceback" not in log.read_text(), log


def test_segmenter_tables(tiny_run):
    results = tiny_run / "results"
    segmenters = pd.read_csv(results / "tables/segmenters.csv")
    assert list(segmenters["metric"]) == ["dice", "iou"] and (segmenters["n"] == 12).all()
    per_image = pd.read_parquet(results / "segmenters/useg/test_scores.parquet")
    assert segmenters.loc[0, "mean"] == pytest.approx(per_image["dice"].mean(), rel=1e-5)
    s1 = pd.read_csv(results / "tables/s1_segmentation_cams.csv")
    assert set(s1["method"]) == {"ablationcam", "gradcam"} and set(s1["layer"]) == {"encoder3", "encoder4"}
    assert "cam_rmse" not in set(s1["metric"]) and (s1["n"] + s1["n_nan"] == 6).all()
    occlusion = pd.read_csv(results / "tables/s1_occlusion.csv")
    assert set(occlusion["occluded"]) == {"foreground", "background"}
    assert sorted(set(occlusion["fraction"])) == [0.0, 0.25, 0.5]
    unoccluded = occlusion[(occlusion["fraction"] == 0) & (occlusion["metric"] == "map_rmse")]
    assert (unoccluded["mean"] == 0).all()
    maps = np.load(results / "segmenters/useg/cams/ablationcam.npz")
    assert maps["encoder4"].shape == (6, 4, 4) and maps["encoder3"].shape == (6, 8, 8)  # 32 px / 8 and / 4


def test_segmenter_regions_can_stand_in_for_ground_truth(tiny_run, tmp_path):
    workdir = tmp_path / "copy"  # a copy, so the shared run stays as it was
    shutil.copytree(tiny_run, workdir, symlinks=True)
    changed = yaml.safe_load((workdir / "tiny.yaml").read_text())
    changed["datasets"]["tiny"]["regions_from"] = "useg"
    (workdir / "regions.yaml").write_text(yaml.safe_dump(changed))
    target = "results/metrics/tiny/r18/gradcam/none/0.parquet"
    snakemake(workdir, target, "--allowed-rules", "segment_regions", "score_cams", config="regions.yaml")
    regions = np.load(workdir / "results/regions/tiny/useg/test.npz")
    assert regions["masks"].shape == (12, 32, 32) and regions["boxes"].shape == (12, 4)
    # Every region is a non-empty single component (empty predictions fall back to the whole image).
    assert regions["masks"].any(axis=(1, 2)).all()
    log = (workdir / "results/logs/score_cams/tiny/r18/gradcam.log").read_text()
    assert "ground truth: the segmenter's regions" in log


def test_shortcut_and_classifier_reports(tiny_run):
    results = tiny_run / "results"
    shortcut = pd.read_csv(results / "tables/shortcut.csv")
    assert list(zip(shortcut["training"], shortcut["marker"], strict=True)) == [
        (t, m) for t in ("ce", "attention") for m in ("correlated", "absent", "shuffled")]
    frame = pd.read_parquet(results / "shortcut/tiny/r18/attention.parquet")
    absent = frame[frame["marker"] == "absent"]
    row = shortcut[(shortcut["training"] == "attention") & (shortcut["marker"] == "absent")].iloc[0]
    assert row["accuracy"] == pytest.approx(absent["correct"].mean()) and row["n"] == 12
    # One seed: its own row and image-bootstrap interval; discriminant power is finite (corrected).
    assert (shortcut["seeds"] == 1).all() and (shortcut["ci_over"] == "images").all()
    assert np.isfinite(shortcut["discriminant_power"]).all()
    per_seed = pd.read_csv(results / "tables/shortcut_seeds.csv")
    assert (per_seed["seed_index"] == 0).all() and (per_seed["seed"] == 3).all()
    pd.testing.assert_frame_equal(per_seed.drop(columns=["seed_index", "seed"]),
                                  shortcut.drop(columns=["seeds", "ci_over"]), check_dtype=False)
    maps = np.load(results / "shortcut/tiny/r18/attention.maps.npz")
    assert maps["ids"].tolist() == frame.loc[frame["marker"] == "shuffled", "id"].tolist() and maps["maps"].shape == (12, 4, 4)
    assert row["energy_pg_mask"] == pytest.approx(absent["energy_pg_mask"].mean(), rel=1e-5)
    history = pd.read_csv(results / "shortcut/tiny/r18/attention.history.csv")
    assert {"ce_weight", "attention_loss", "train_hard_ratio"} <= set(history.columns)
    main = pd.read_csv(results / "tables/classifiers.csv")
    assert list(zip(main["study"], main["training"], strict=True)) == [("main", "ce")]
    classifiers = pd.read_csv(results / "tables/shortcut_classifiers.csv")
    assert list(zip(classifiers["study"], classifiers["training"], strict=True)) == [
        ("shortcut", "attention"), ("shortcut", "ce")]
    correlated = frame[frame["marker"] == "correlated"]
    attention = classifiers[classifiers["training"] == "attention"].iloc[0]
    assert attention["accuracy"] == pytest.approx(correlated["correct"].mean(), rel=1e-5) and attention["n"] == 12
    youden = classifiers["sensitivity"] + classifiers["specificity"] - 1
    np.testing.assert_allclose(classifiers["youden"], youden, rtol=1e-5)


def test_tables_agree_with_the_per_image_artifacts(tiny_run):
    # Recompute a table cell from the per-image parquet independently of the aggregation code.
    results = tiny_run / "results"
    frame = pd.read_parquet(results / "metrics/tiny/r18/gradcam/gaussian_noise/3.parquet")
    cam = pd.read_csv(results / "tables/cam_metrics.csv")
    row = cam[(cam["method"] == "gradcam") & (cam["layer"] == "layer4") & (cam["perturbation"] == "gaussian_noise")
              & (cam["severity"] == 3) & (cam["metric"] == "energy_pg_mask")].iloc[0]
    values = frame.loc[frame["layer"] == "layer4", "energy_pg_mask"]
    assert row["mean"] == pytest.approx(values.mean(), rel=1e-5) and row["n"] == 12
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    predictions = pd.read_parquet(results / "predictions/tiny/r18/contrast/2.parquet")
    accuracy = pd.read_csv(results / "tables/classification.csv").set_index(["perturbation", "severity"])
    assert accuracy.loc[("contrast", 2), "accuracy"] == pytest.approx(predictions["correct"].mean())
    maps = np.load(results / "cams/tiny/r18/gradcam/none/0.npz")
    assert maps["layer4"].shape == (12, 4, 4) and maps["layer4"].dtype == np.float32  # 32 px / stride 8


def test_second_run_does_nothing(tiny_run):
    assert "Nothing to be done" in snakemake(tiny_run)


def test_changing_one_severity_list_recomputes_only_that_branch(tiny_run):
    changed = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    changed["perturbations"]["contrast"] = [2, 4]
    (tiny_run / "changed.yaml").write_text(yaml.safe_dump(changed))
    jobs = planned_jobs(snakemake(tiny_run, "--dry-run", config="changed.yaml"))
    # The perturbed conditions' jobs and the scores (of the 5 methods and 3 baselines) rerun, and the metric
    # reliability, which reads stability across severities; every clean artifact (and so the sanity check,
    # the randomised maps' scores and faithfulness) is left alone.
    assert jobs == {
        "perturb": 1, "predict": 1, "cam_shared": 1, "cam_rerun": 2, "score_cams": 8,
        "aggregate_classification": 1, "aggregate_cams": 1, "aggregate_wsol": 1, "metric_reliability": 1,
        "figure_classification": 1, "figure_stability": 1, "figure_box_vs_mask": 1, "figure_examples": 1,
        "figure_metric_reliability": 1, "box_vs_mask_table": 1, "all": 1,
    }


def test_report_holds_every_figure_and_the_main_tables_by_stage_and_study(tiny_run):
    snakemake(tiny_run, "--report", str(tiny_run / "report.html"))
    html = (tiny_run / "report.html").read_text(errors="ignore")
    for caption_words in ("Training curves", "ROC-AUC", "Explanation stability", "tight ground-truth box", "One test image",
                          "re-runs only the decoder", "occlusion study", "Shortcut demonstration",
                          "Paired Wilcoxon signed-rank", "the study's Table 1", "Dice and IoU on its test split",
                          "Cascading model randomisation", "How far each metric can be trusted"):
        assert caption_words in html, caption_words
    for category in ("Core · 1 Training", "Core · 3 Localisation", "Core · 5 Faithfulness and sanity",
                     "Study · Segmentation ablation", "Study · Attention training", "Study · Box versus mask"):
        assert json.dumps(category)[1:-1] in html, category  # the report's data is JSON, "·" escaped


@pytest.mark.full
def test_same_config_gives_byte_identical_tables_and_figures(tiny_run, tmp_path):
    shutil.copy(ROOT / "tests/data/tiny.yaml", tmp_path / "tiny.yaml")
    snakemake(tmp_path)
    tables_made = sorted(path.name for path in (tiny_run / "results/tables").glob("*.csv"))
    assert len(tables_made) == 18
    for table in tables_made:
        assert (tmp_path / "results/tables" / table).read_bytes() == (tiny_run / "results/tables" / table).read_bytes(), table
    figures = sorted(path.relative_to(tiny_run) for path in (tiny_run / "results/figures").rglob("*.p[nd][gf]"))
    assert len(figures) == 22  # 11 figures, PNG and PDF
    for figure in figures:
        assert (tmp_path / figure).read_bytes() == (tiny_run / figure).read_bytes(), figure
