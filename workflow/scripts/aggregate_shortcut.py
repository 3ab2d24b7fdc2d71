"""Shortcut table: per training (cross-entropy, attention) and test marker, the classification report and
the map scores, each with an image-bootstrap CI."""

import pandas as pd

from camsweep import io, stats
from camsweep.scripting import job_context
from camsweep.studies.attention_training import shortcut

with job_context(globals()) as job:
    frames = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        frames.append(pd.read_parquet(path).assign(**keys))
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    io.save_csv(job.output[0], shortcut.shortcut_table(pd.concat(frames, ignore_index=True), settings, job.params.seed))
