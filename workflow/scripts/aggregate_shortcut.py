"""Shortcut table: per training (cross-entropy, attention) and test marker, the classification report and
the map scores, each with an image-bootstrap CI."""

from pathlib import Path

import pandas as pd

from camsweep import io, stats, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    frames = []
    for path in job.input:
        dataset, model, training = Path(path).with_suffix("").parts[-3:]
        frames.append(pd.read_parquet(path).assign(dataset=dataset, model=model, training=training))
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    io.save_csv(job.output[0], tables.shortcut_table(pd.concat(frames, ignore_index=True), settings, job.params.seed))
