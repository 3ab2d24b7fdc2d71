"""Gradient-family CAMs (all configured methods, all layers) for one model and one condition."""

import logging

import numpy as np
import pandas as pd
import torch

from camsweep import cams, io
from camsweep.cams.targets import class_targets
from camsweep.data import load_split
from camsweep.models import classifiers
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(job.input.model, device)
    arrays, _ = io.load_npz(job.input.images)
    split = load_split(job.input.split)
    predictions = pd.read_parquet(job.input.predictions)
    clean_predictions = pd.read_parquet(job.input.clean_predictions)
    for frame, path in ((predictions, job.input.predictions), (clean_predictions, job.input.clean_predictions)):
        if not np.array_equal(frame["id"].to_numpy(), split.ids.astype(str)):
            raise ValueError(f"{path}: image ids do not match {job.input.split}")
    targets = class_targets(
        job.params.target, split.labels, predictions["prediction"].to_numpy(), clean_predictions["prediction"].to_numpy()
    )
    inputs = classifiers.preprocess(arrays["images"], spec)
    maps = cams.compute_many(model, inputs, job.params.methods, job.params.layers, targets, job.params.batch_size, progress=True)
    for method, path in zip(job.params.methods, job.output.maps):
        params = {**dict(job.wildcards.items()), "method": method, "layers": job.params.layers, "target": job.params.target}
        layer_maps = {layer: maps[method][layer].numpy().astype(np.float32) for layer in job.params.layers}
        io.save_npz(path, {**layer_maps, "ids": split.ids, "targets": targets}, io.provenance(params, layers=job.params.layers))
    logging.info("%d images, methods %s, layers %s", len(inputs), job.params.methods, job.params.layers)
