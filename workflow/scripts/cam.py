"""CAMs of the job's methods (each on its layers) for one model, every condition: one file per (condition,
method), in the order of params.conditions, then params.methods."""

import itertools
import logging

import numpy as np
import pandas as pd
import torch

from camsweep import cams, io, shards
from camsweep.cams.targets import class_targets
from camsweep.data import check_ids, load_images, load_split
from camsweep.models import classifiers
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(job.input.model, device)
    whole = load_split(job.input.split)
    rows = shards.job_rows(job)  # this job's shard of the test split (all of it when unsharded)
    split = shards.take(whole, rows)
    clean_predictions = pd.read_parquet(job.input.clean_predictions)
    check_ids(clean_predictions["id"], whole, job.input.clean_predictions)
    clean_predictions = clean_predictions.iloc[rows]
    settings = cams.CamSettings(**job.params.settings)
    methods, layers = list(job.params.methods), dict(job.params.layers)
    outputs = iter(job.output.maps)
    for (name, severity), images_path, predictions_path in zip(
        job.params.conditions, job.input.images, job.input.predictions, strict=True
    ):
        predictions = pd.read_parquet(predictions_path)
        check_ids(predictions["id"], whole, predictions_path)
        predictions = predictions.iloc[rows]
        inputs = classifiers.preprocess(load_images(images_path, whole)[rows], spec)
        targets = class_targets(
            job.params.target, split.labels, predictions["prediction"].to_numpy(), clean_predictions["prediction"].to_numpy()
        )
        maps = {}
        by_layers = itertools.groupby(sorted(methods, key=lambda m: layers[m]), key=lambda m: layers[m])
        for group_layers, group in by_layers:  # methods on the same layers share their passes
            maps |= cams.compute_many(model, inputs, list(group), group_layers, targets, progress=False, settings=settings)
        for method in methods:
            params = {**dict(job.wildcards.items()), "method": method, "perturbation": name, "severity": str(severity),
                      "layers": layers[method], "target": job.params.target}
            layer_maps = {layer: maps[method][layer].numpy().astype(np.float32) for layer in layers[method]}
            io.save_npz(next(outputs), {**layer_maps, "ids": split.ids, "targets": targets},
                        io.provenance(params, layers=layers[method]))
        logging.info("%s %s: %s on %d images, layers %s", name, severity, methods, len(inputs), layers)
    assert next(outputs, None) is None, "more output files than (condition, method) pairs"
