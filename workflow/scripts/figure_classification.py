"""ROC-AUC and accuracy against severity for one model on one dataset."""

import pandas as pd

from camsweep import plots
from camsweep.plots.classification import metric_vs_severity
from camsweep.scripting import job_context

with job_context(globals()) as job:
    table = pd.read_csv(job.input[0])
    rows = table[(table["dataset"] == job.wildcards.dataset) & (table["model"] == job.wildcards.model)]
    figure = metric_vs_severity(rows, f"{job.wildcards.model} on {job.wildcards.dataset}: classification under perturbation")
    plots.save(figure, job.output.png, job.output.pdf)
