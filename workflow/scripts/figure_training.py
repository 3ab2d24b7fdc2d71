"""Training curves of one model on one dataset."""

import pandas as pd

from camsweep import plots
from camsweep.plots.training import training_curves
from camsweep.scripting import job_context

with job_context(globals()) as job:
    figure = training_curves(pd.read_csv(job.input[0]), f"{job.wildcards.model} on {job.wildcards.dataset}")
    plots.save(figure, job.output.png, job.output.pdf)
