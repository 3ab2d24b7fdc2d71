"""Classification report of every trained classifier (accuracy, ROC-AUC, sensitivity, specificity,
Youden's J, discriminant power) on its own test images, with image-bootstrap CIs. The shortcut study's
models are reported on their test set with the marker as in training."""

import pandas as pd

from camsweep import io, stats, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    conditions = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        frame = pd.read_parquet(path)
        if "marker" in frame:
            frame = frame[frame["marker"] == "correlated"]
        conditions.append(tables.Condition(keys, frame))
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    io.save_csv(job.output[0], tables.classifier_table(conditions, settings, job.params.seed))
