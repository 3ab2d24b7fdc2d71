"""The model-randomisation test (Adebayo et al. 2018, figure 2): similarity of trained and randomised maps
per block randomised, cascading and independent, one row of panels per layer."""

import pandas as pd

from camsweep import plots
from camsweep.plots.randomisation import randomisation_curves
from camsweep.scripting import job_context

with job_context(globals()) as job:
    table = pd.read_csv(job.input[0])
    rows = table[(table["dataset"] == job.wildcards.dataset) & (table["model"] == job.wildcards.model)]
    title = f"{job.wildcards.model} on {job.wildcards.dataset}: do the maps change as the model is randomised?"
    figure = randomisation_curves(rows, job.params.layers, job.params.threshold, title, job.params.baselines)
    plots.save(figure, job.output.png, job.output.pdf)
