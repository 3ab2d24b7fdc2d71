"""Class probabilities of one model for every condition's images (params.conditions order, one file each)."""

import logging

import torch

from camsweep import inference, io, predictions
from camsweep.data import load_images, load_split
from camsweep.models import classifiers
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(job.input.model, device)
    split = load_split(job.input.split)
    conditions = job.params.conditions
    for (name, severity), images, path in zip(conditions, job.input.images, job.output, strict=True):
        probs = inference.probabilities(model, spec, load_images(images, split), job.params.batch_size, device)
        frame = predictions.predictions_frame(split.ids, split.labels, probs)
        params = {**dict(job.wildcards.items()), "perturbation": name, "severity": str(severity),
                  "batch_size": job.params.batch_size}
        io.save_parquet(path, frame, io.provenance(params, class_names=list(split.class_names)))
        logging.info("%s %s: accuracy %.4f on %d images", name, severity, frame["correct"].mean(), len(frame))
