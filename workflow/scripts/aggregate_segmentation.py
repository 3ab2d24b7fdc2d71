"""S1 tables: each segmenter's test Dice/IoU, its maps' localisation scores, and the occlusion curves,
all as means with image-bootstrap CIs."""

from pathlib import Path

import pandas as pd

from camsweep import io, occlusion, scoring, stats, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    seed = job.params.seed
    test_scores = pd.concat(
        [pd.read_parquet(path).assign(segmenter=Path(path).parent.name) for path in job.input.test_scores], ignore_index=True
    )
    io.save_csv(job.output.segmenters, tables.grouped_mean_table(test_scores, ["segmenter"], ("dice", "iou"), settings, seed, "segmenters"))
    conditions = []
    for path in job.input.cam_scores:
        segmenter, method = Path(path).parts[-3], Path(path).stem
        keys = {"dataset": segmenter, "model": segmenter, "method": method, "perturbation": "none", "severity": 0}
        conditions.append(tables.Condition(keys, pd.read_parquet(path)))
    cam_table = tables.cam_metric_table(conditions, settings, seed, columns=scoring.GROUND_TRUTH_COLUMNS)
    cam_table = cam_table.drop(columns=["dataset", "perturbation", "severity"]).rename(columns={"model": "segmenter"})
    io.save_csv(job.output.cams, cam_table)
    occluded = pd.concat(
        [pd.read_parquet(path).assign(segmenter=Path(path).parent.name) for path in job.input.occlusion], ignore_index=True
    )
    keys = ["segmenter", "occluded", "fraction"]
    io.save_csv(job.output.occlusion, tables.grouped_mean_table(occluded, keys, occlusion.METRICS, settings, seed, "occlusion"))
