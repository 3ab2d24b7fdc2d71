"""Perturbation-robustness figures of one dataset and model: RMSE vs layer per class; per-image RMSE
against ΔAUC (rows = severity, columns = layer, and the transposed view). Outputs <figure>_png/_pdf."""

import pandas as pd

from camsweep import plots
from camsweep.data import load_split
from camsweep.scripting import job_context
from camsweep.studies.perturbation_robustness import figures

TEXT = {"dataset": str, "model": str, "layer": str, "perturbation": str}

with job_context(globals()) as job:
    images, rmse = pd.read_parquet(job.input.images), pd.read_csv(job.input.rmse, dtype=TEXT)
    class_names = load_split(job.input.split).class_names
    drawn = figures.model_figures(images, rmse, job.wildcards.dataset, job.wildcards.model, job.params.method,
                                  class_names, source=f"{job.input.images}, {job.input.rmse}")
    for name, figure in drawn.items():
        plots.save(figure, getattr(job.output, f"{name}_png"), getattr(job.output, f"{name}_pdf"))
