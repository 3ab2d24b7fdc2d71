"""Box- versus mask-based localisation metrics on clean images."""

import pandas as pd

from camsweep import plots
from camsweep.plots.localisation import box_vs_mask_bars
from camsweep.scripting import job_context

with job_context(globals()) as job:
    table = pd.read_csv(job.input[0])
    rows = table[(table["dataset"] == job.wildcards.dataset) & (table["model"] == job.wildcards.model)]
    title = f"{job.wildcards.model} on {job.wildcards.dataset}: localisation against the box and the mask (clean images)"
    plots.save(box_vs_mask_bars(rows, job.params.layers, title, job.params.baselines), job.output.png, job.output.pdf)
