"""Faithfulness table: per method and layer, the mean of each per-image score with a bootstrap CI."""

from pathlib import Path

import pandas as pd

from camsweep import io, stats, tables
from camsweep.perturb import CLEAN
from camsweep.scripting import job_context

with job_context(globals()) as job:
    conditions = []
    for path in job.input:
        dataset, model, method = Path(path).with_suffix("").parts[-3:]
        keys = {"dataset": dataset, "model": model, "method": method, "perturbation": CLEAN[0], "severity": CLEAN[1]}
        conditions.append(tables.Condition(keys, pd.read_parquet(path)))
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    table = tables.cam_metric_table(conditions, settings, job.params.seed, tables.FAITHFULNESS_COLUMNS)
    io.save_csv(job.output.table, table)
