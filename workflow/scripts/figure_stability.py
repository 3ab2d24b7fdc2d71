"""CAM RMSE to the clean map against severity, per perturbation and layer."""

import pandas as pd

from camsweep import plots
from camsweep.plots.stability import rmse_vs_severity
from camsweep.scripting import job_context

with job_context(globals()) as job:
    table = pd.read_csv(job.input[0])
    rows = table[(table["dataset"] == job.wildcards.dataset) & (table["model"] == job.wildcards.model)
                 & (table["metric"] == "cam_rmse")]
    title = f"{job.wildcards.model} on {job.wildcards.dataset}: how far maps move from the clean map"
    plots.save(rmse_vs_severity(rows, job.params.layers, title, job.params.baselines), job.output.png, job.output.pdf)
