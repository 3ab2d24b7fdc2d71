"""Faithfulness table: per method and layer, the mean of each per-image score with a bootstrap CI."""

import pandas as pd

from camsweep import io, metrics, stats, tables
from camsweep.perturb import CLEAN
from camsweep.scripting import job_context

with job_context(globals()) as job:
    conditions = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        keys = {**keys, "perturbation": CLEAN[0], "severity": CLEAN[1]}  # faithfulness is scored on clean images
        conditions.append(tables.Condition(keys, pd.read_parquet(path)))
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    table = tables.cam_metric_table(conditions, settings, job.params.seed, metrics.FAITHFULNESS_COLUMNS)
    io.save_csv(job.output.table, table)
