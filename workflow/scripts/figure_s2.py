"""S2 figures. For one dataset and model (outputs layers_*, by_severity_*, by_layer_*): RMSE vs layer per
class; per-image RMSE against ΔAUC (rows = severity, columns = layer, and the transposed view). For one
dataset (outputs augmentation_*): ΔAUC and RMSE vs severity of the compared models, e.g. with and without
train-time augmentation.

The job (Snakemake, or ``--input``/``--params``/``--output``/``--wildcards`` by hand):

* ``wildcards.dataset``; ``wildcards.model`` for the per-model figures.
* ``input.images`` — ``s2_rmse_images.parquet``, ``input.rmse`` — ``s2_rmse.csv``, ``input.summary`` —
  ``s2_summary.csv`` (all written by s2_tables.py).
* ``input.split`` (optional) — ``results/data/{dataset}/test.npz``: class names for the legend.
* ``params.compare`` — list of models for the augmentation figure, in legend order (e.g. the model without
  and the one with train-time augmentation); ``params.labels`` (optional) — ``{model: legend label}``.
* ``output.layers_png``/``layers_pdf`` (RMSE vs layer), ``output.by_severity_png``/``by_severity_pdf``
  (rows = severity, columns = layer), ``output.by_layer_png``/``by_layer_pdf`` (rows = layer, columns =
  severity), ``output.augmentation_png``/``augmentation_pdf``.
"""

import pandas as pd

from camsweep import plots
from camsweep.data import load_split
from camsweep.plots import s2 as s2_plots
from camsweep.scripting import job_context

TEXT = {"dataset": str, "model": str, "layer": str, "perturbation": str}

def per_model_figures(job, dataset: str, model: str) -> None:
    images = pd.read_parquet(job.input.images)
    images = images[(images["dataset"] == dataset) & (images["model"] == model)]
    rmse = pd.read_csv(job.input.rmse, dtype=TEXT)
    rmse = rmse[(rmse["dataset"] == dataset) & (rmse["model"] == model)]
    if images.empty or rmse.empty:
        raise ValueError(f"{job.input.images}, {job.input.rmse}: no S2 rows for dataset {dataset!r}, model {model!r}")
    inputs = dict(job.input.items())
    class_names = load_split(inputs["split"]).class_names if "split" in inputs else None
    name = f"{model} on {dataset}"
    plots.save(s2_plots.rmse_vs_layer(rmse, f"{name}: Grad-CAM++ RMSE to the clean map per layer and class", class_names=class_names),
               job.output.layers_png, job.output.layers_pdf)
    plots.save(s2_plots.rmse_vs_delta_auc(images, f"{name}: per-image RMSE against the condition's ΔAUC"),
               job.output.by_severity_png, job.output.by_severity_pdf)
    plots.save(s2_plots.rmse_vs_delta_auc(images, f"{name}: per-image RMSE against ΔAUC, by layer", transpose=True),
               job.output.by_layer_png, job.output.by_layer_pdf)


def augmentation_figure(job, dataset: str) -> None:
    summary = pd.read_csv(job.input.summary, dtype=TEXT)
    summary = summary[summary["dataset"] == dataset]
    compare = [str(m) for m in job.params.compare]
    absent = sorted(set(compare) - set(summary["model"]))
    if absent:
        raise ValueError(f"{job.input.summary}: no rows for model(s) {absent} of params.compare on dataset {dataset!r}")
    labels = getattr(job.params, "labels", None)
    plots.save(s2_plots.augmentation_comparison(summary, compare, f"{dataset}: with and without train-time augmentation", labels),
               job.output.augmentation_png, job.output.augmentation_pdf)


with job_context(globals()) as job:
    outputs = dict(job.output.items())
    if "layers_png" in outputs:
        per_model_figures(job, job.wildcards.dataset, job.wildcards.model)
    if "augmentation_png" in outputs:
        augmentation_figure(job, job.wildcards.dataset)
