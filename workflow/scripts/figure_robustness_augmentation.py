"""Perturbation-robustness figure of one dataset: ΔAUC and RMSE vs severity of every model, e.g. with and
without train-time augmentation (params.augmented: model → trained with it)."""

import pandas as pd

from camsweep import plots
from camsweep.scripting import job_context
from camsweep.studies.perturbation_robustness import figures

with job_context(globals()) as job:
    summary = pd.read_csv(job.input.summary, dtype={"dataset": str, "model": str, "perturbation": str})
    figure = figures.augmentation_figure(summary, job.wildcards.dataset, dict(job.params.augmented), source=job.input.summary)
    plots.save(figure, job.output.png, job.output.pdf)
