"""Shortcut tables: per training (cross-entropy, attention), test marker and seed, the classification report
and the map scores with image-bootstrap CIs (shortcut_seeds.csv); and per training and test marker, the mean
over seeds with a t-interval across seeds, or with one seed its image-bootstrap CI (shortcut.csv)."""

import pandas as pd

from camsweep import io, stats
from camsweep.scripting import job_context
from camsweep.studies.attention_training import shortcut

with job_context(globals()) as job:
    frames = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        frames.append(pd.read_parquet(path).assign(**keys))
    aggregate = job.params.aggregate
    settings = stats.BootstrapSettings(aggregate["bootstrap_resamples"], aggregate["confidence"])
    per_seed = shortcut.shortcut_seed_table(pd.concat(frames, ignore_index=True), settings, job.params.seed)
    io.save_csv(job.output.seeds, per_seed)
    io.save_csv(job.output.table, shortcut.shortcut_table(per_seed, aggregate["confidence"]))
