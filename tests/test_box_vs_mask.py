"""The box-versus-mask wing's Table 1: values copied from the CAM table, so building it from that table's
CSV (as the workflow does) gives the bytes of building it from the table in memory."""

import numpy as np
import pandas as pd

from camsweep import io, tables
from camsweep.studies.box_vs_mask import tables as box_vs_mask

METRICS = sorted({column for pair in box_vs_mask.TABLE1.values() for column in pair})


def _cam_table(generator):
    rows = []
    for method in ("gradcam", "gradcam++"):
        for layer in ("layer3", "layer4"):
            for perturbation, severity in (("none", 0), ("contrast", 2)):
                for metric in METRICS:
                    mean, spread = generator.random(), generator.random() / 10
                    rows.append({"dataset": "shapes", "model": "resnet18", "method": method, "layer": layer,
                                 "perturbation": perturbation, "severity": severity, "metric": metric, "n": 40,
                                 "n_nan": 0, "mean": mean, "ci_low": mean - spread, "ci_high": mean + spread})
    table = pd.DataFrame(rows)
    table.loc[3, ["mean", "ci_low", "ci_high"]] = np.nan  # an undefined metric stays empty
    return table


def test_table1_from_the_csv_equals_table1_from_memory(tmp_path):
    table = _cam_table(np.random.default_rng(0))
    io.save_csv(tmp_path / "cam_metrics.csv", table)
    read = pd.read_csv(tmp_path / "cam_metrics.csv", dtype={"dataset": str, "model": str, "method": str,
                                                            "layer": str, "perturbation": str, "metric": str})
    io.save_csv(tmp_path / "memory.csv", box_vs_mask.table1(table))
    io.save_csv(tmp_path / "csv.csv", box_vs_mask.table1(read))
    assert (tmp_path / "memory.csv").read_bytes() == (tmp_path / "csv.csv").read_bytes()


def test_table1_rows_pair_the_corrected_and_seed_metric_of_clean_images():
    table = _cam_table(np.random.default_rng(1))
    result = box_vs_mask.table1(table)
    assert len(result) == 2 * 2 * len(box_vs_mask.TABLE1)  # methods × layers × Table 1 rows, clean only
    row = result[(result["method"] == "gradcam") & (result["layer"] == "layer4") & (result["metric"] == "LE")].iloc[0]
    clean = table[(table["perturbation"] == "none") & (table["method"] == "gradcam") & (table["layer"] == "layer4")]
    by_metric = clean.set_index("metric")
    assert row["corrected"] == by_metric.at["le_box", "mean"] and row["seed"] == by_metric.at["le_box_seed", "mean"]
    assert row["published"] == box_vs_mask.PUBLISHED["LE"]
    assert tables.side_by_side(table, box_vs_mask.TABLE1, ("corrected", "seed"))[0]["metric"] == "LE"


def test_no_published_value_beside_a_baseline_map():
    table = _cam_table(np.random.default_rng(2))
    table["method"] = table["method"].replace({"gradcam++": "centre"})
    result = box_vs_mask.table1(table, {"resnet18": "timm/legacy_xception"}, baselines=("random", "centre"))
    assert result.loc[result["method"] == "centre", "published"].isna().all()
    study = result[result["method"] == "gradcam"]
    assert (study["published"] == study["metric"].map(box_vs_mask.PUBLISHED)).all()
