"""Sanity-check table: per method and layer, similarity of trained and randomised maps and their
energy pointing games, with bootstrap CIs; ``fails_check`` flags maps that barely change."""

import pandas as pd

from camsweep import io, stats, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    frames = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        frames.append(pd.read_parquet(path).assign(**keys))
    frame = pd.concat(frames, ignore_index=True)
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    table = tables.sanity_table(frame, settings, job.params.seed, job.params.threshold)
    io.save_csv(job.output.table, table)
