"""Class probabilities of one model for one condition's images."""

import logging

import torch

from camsweep import inference, io
from camsweep.data import load_images, load_split
from camsweep.models import classifiers
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(job.input.model, device)
    split = load_split(job.input.split)
    probs = inference.probabilities(model, spec, load_images(job.input.images, split), job.params.batch_size, device)
    frame = inference.predictions_frame(split.ids, split.labels, probs)
    params = {**dict(job.wildcards.items()), "batch_size": job.params.batch_size}
    io.save_parquet(job.output[0], frame, io.provenance(params, class_names=list(split.class_names)))
    logging.info("accuracy %.4f on %d images", frame["correct"].mean(), len(frame))
