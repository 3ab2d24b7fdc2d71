"""How far each metric can be trusted, for one dataset and model at its example layer."""

import pandas as pd

from camsweep import plots
from camsweep.plots.reliability import reliability_panels
from camsweep.scripting import job_context

with job_context(globals()) as job:
    table = pd.read_csv(job.input[0], keep_default_na=False, na_values=[""])
    rows = table[(table["dataset"] == job.wildcards.dataset) & (table["model"] == job.wildcards.model)]
    title = f"{job.wildcards.model} on {job.wildcards.dataset}: which metrics tell a map that explains the model apart"
    plots.save(reliability_panels(rows, job.params.layer, title, job.params.baselines), job.output.png, job.output.pdf)
