"""Shortcut figure: accuracy and mask EPG of the cross-entropy and attention models with the marker as in
training, absent and shuffled."""

import pandas as pd

from camsweep import plots
from camsweep.studies.attention_training.figures import shortcut_panels
from camsweep.scripting import job_context

with job_context(globals()) as job:
    table = pd.read_csv(job.input[0])
    table = table[(table["dataset"] == job.wildcards.dataset) & (table["model"] == job.wildcards.model)]
    if table.empty:
        raise ValueError(f"{job.input[0]} has no rows for {job.wildcards.dataset}/{job.wildcards.model}")
    title = f"Shortcut test: {job.wildcards.model} trained on {job.wildcards.dataset} with a class marker"
    plots.save(shortcut_panels(table, title), job.output.png, job.output.pdf)
