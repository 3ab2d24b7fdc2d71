"""Perturbation-robustness tables: one method's RMSE to the clean map per layer, condition and class on a
fixed number of correctly classified clean test images per class, joined with each condition's ΔAUC; the
per-condition summary; the area under the ΔAUC–severity curve (camsweep.studies.perturbation_robustness).

Inputs: ``scores`` (per-image scores of one method, every condition) and ``predictions`` (clean predictions
per dataset and model), each with its keys in the param of the same name; ``classification`` (the ΔAUC of
every condition). Outputs: ``rmse``, ``summary``, ``area`` (CSV), ``images`` (the per-image rows) and
``provenance`` (params, seed, inputs and the images taken per class).
"""

import logging

import pandas as pd

from camsweep import io, stats
from camsweep.scripting import job_context
from camsweep.studies.perturbation_robustness import analysis

with job_context(globals()) as job:
    scores = [(keys, pd.read_parquet(path)) for path, keys in zip(job.input.scores, job.params.scores, strict=True)]
    predictions = [(keys, pd.read_parquet(path), path)
                   for path, keys in zip(job.input.predictions, job.params.predictions, strict=True)]
    classification = pd.read_csv(job.input.classification, dtype={"dataset": str, "model": str, "perturbation": str})
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    result = analysis.robustness_tables(scores, predictions, classification, job.params.per_class, job.params.layers,
                                        settings, job.params.seed)
    io.save_csv(job.output.rmse, result.rmse)
    io.save_csv(job.output.summary, result.summary)
    io.save_csv(job.output.area, result.area)
    record = {"per_class": job.params.per_class, "layers": job.params.layers, "aggregate": job.params.aggregate}
    io.save_parquet(job.output.images, result.frame, io.provenance(record, seed=job.params.seed))
    inputs = sorted([*job.input.scores, *job.input.predictions, job.input.classification])
    io.save_json(job.output.provenance, io.provenance(record, seed=job.params.seed, inputs=inputs, selection=result.selection))
    logging.info("%d per-image rows; images taken per class: %s", len(result.frame), result.selection)
