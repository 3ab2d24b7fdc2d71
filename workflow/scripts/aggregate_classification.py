"""Classification table: accuracy, ROC-AUC and ΔAUC with bootstrap CIs for every condition."""

import pandas as pd

from camsweep import io, stats, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    conditions = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        conditions.append(tables.Condition(keys, pd.read_parquet(path)))
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    table = tables.classification_table(conditions, settings, job.params.seed)
    io.save_csv(job.output.table, table)
    io.save_json(job.output.provenance, io.provenance(job.params.aggregate, seed=job.params.seed, inputs=sorted(job.input)))
