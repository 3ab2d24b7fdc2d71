"""S2 tables: Grad-CAM++ RMSE to the clean map per layer, condition and class on a fixed number of correctly
classified clean test images per class, joined with each condition's ΔAUC; the per-condition summary; the
area under the ΔAUC–severity curve.

The job (Snakemake, or ``--input``/``--params``/``--output`` by hand):

* ``input.scores`` — list of ``results/metrics/{dataset}/{model}/{method}/{perturbation}/{severity}.parquet``
  of one method (S2: gradcam++); the keys are parsed from the path as in aggregate_cams.py. The clean
  condition (none/0) may be among them: it is skipped (its RMSE is 0 by definition).
* ``input.predictions`` — list of ``results/predictions/{dataset}/{model}/none/0.parquet``, one per
  (dataset, model) of the scores: the clean predictions the images are selected from.
* ``input.classification`` — ``results/tables/classification.csv`` (the ΔAUC of every condition).
* ``params.per_class`` — int, images per class (fewer where a class has fewer correct ones: logged, and
  recorded in the provenance under ``selection``).
* ``params.layers`` — ``{model: [layer, ...]}`` (or one list for all models): the S2 layers in order.
* ``params.aggregate`` — ``config["aggregate"]`` (``bootstrap_resamples``, ``confidence``); ``params.seed``.
* ``output.rmse`` — ``s2_rmse.csv``: mean RMSE and CI per (dataset, model, layer, perturbation, severity, label).
* ``output.area`` — ``s2_delta_auc_area.csv``: the area under the ΔAUC–severity curve per (dataset, model, perturbation).
* ``output.summary`` — ``s2_summary.csv``: per condition, RMSE over layers and images, and ΔAUC, with CIs.
* ``output.images`` — ``s2_rmse_images.parquet``: the per-image rows (what the scatter figures draw).
* ``output.provenance`` — JSON: params, seed, inputs, per (dataset, model) images taken per class.
"""

import logging
from pathlib import Path

import pandas as pd

from camsweep import io, s2, stats, tables
from camsweep.perturb import CLEAN
from camsweep.scripting import job_context


def paths(value):
    """A list input; run by hand, a named input is one path."""
    return [value] if isinstance(value, str) else list(value)


with job_context(globals()) as job:
    selections = {}
    for path in paths(job.input.predictions):
        dataset, model, perturbation, severity = Path(path).with_suffix("").parts[-4:]
        if (perturbation, int(severity)) != CLEAN:
            raise ValueError(f"{path}: S2 selects images from the clean predictions (…/none/0.parquet)")
        selections[(dataset, model)] = s2.select_images(pd.read_parquet(path), job.params.per_class, source=path)
    conditions = []
    for path in paths(job.input.scores):
        dataset, model, method, perturbation, severity = Path(path).with_suffix("").parts[-5:]
        keys = {"dataset": dataset, "model": model, "method": method, "perturbation": perturbation,
                "severity": int(severity)}
        conditions.append(tables.Condition(keys, pd.read_parquet(path)))
    classification = pd.read_csv(job.input.classification, dtype={"dataset": str, "model": str, "perturbation": str})
    frame = s2.rmse_frame(conditions, selections, classification, job.params.layers)
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    seed = job.params.seed
    io.save_csv(job.output.rmse, s2.rmse_table(frame, settings, seed))
    io.save_csv(job.output.summary, s2.severity_summary(frame, classification, settings, seed))
    io.save_csv(job.output.area, s2.area_under_severity(classification, sorted(selections)))
    record = {"per_class": job.params.per_class, "layers": job.params.layers, "aggregate": job.params.aggregate}
    selection = {f"{d}/{m}": {str(k): n for k, n in chosen.counts.items()} for (d, m), chosen in sorted(selections.items())}
    io.save_parquet(job.output.images, frame, io.provenance(record, seed=seed))
    inputs = sorted([*paths(job.input.scores), *paths(job.input.predictions), job.input.classification])
    io.save_json(job.output.provenance, io.provenance(record, seed=seed, inputs=inputs, selection=selection))
    logging.info("S2: %d per-image rows; images taken per class: %s", len(frame), selection)
