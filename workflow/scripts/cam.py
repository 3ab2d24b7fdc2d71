"""CAMs of the job's methods (each on its layers) for one model and one condition, one file per method."""

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
    images = load_images(job.input.images, whole)
    predictions = pd.read_parquet(job.input.predictions)
    clean_predictions = pd.read_parquet(job.input.clean_predictions)
    check_ids(predictions["id"], whole, job.input.predictions)
    check_ids(clean_predictions["id"], whole, job.input.clean_predictions)
    rows = shards.job_rows(job)  # this job's shard of the test split (all of it when unsharded)
    split, images = shards.take(whole, rows), images[rows]
    predictions, clean_predictions = predictions.iloc[rows], clean_predictions.iloc[rows]
    inputs = classifiers.preprocess(images, spec)
    targets = class_targets(
        job.params.target, split.labels, predictions["prediction"].to_numpy(), clean_predictions["prediction"].to_numpy()
    )
    settings = cams.CamSettings(**job.params.settings)
    methods, layers = list(job.params.methods), dict(job.params.layers)
    maps = {}
    by_layers = itertools.groupby(sorted(methods, key=lambda m: layers[m]), key=lambda m: layers[m])
    for group_layers, group in by_layers:  # methods on the same layers share their passes
        maps |= cams.compute_many(model, inputs, list(group), group_layers, targets, progress=True, settings=settings)
    for method, path in zip(methods, job.output.maps, strict=True):
        params = {**dict(job.wildcards.items()), "method": method, "layers": layers[method], "target": job.params.target}
        layer_maps = {layer: maps[method][layer].numpy().astype(np.float32) for layer in layers[method]}
        io.save_npz(path, {**layer_maps, "ids": split.ids, "targets": targets}, io.provenance(params, layers=layers[method]))
        logging.info("%s: %d images, layers %s", method, len(inputs), layers[method])
