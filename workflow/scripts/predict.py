"""Class probabilities of one model for every condition's images (params.conditions order, one file each)."""

import logging

from camsweep import inference, io, jobs, predictions
from camsweep.scripting import job_context

with job_context(globals()) as job:
    inputs = jobs.load(job)  # the model and the test split
    split = inputs.split
    for (name, severity), images, path in zip(job.params.conditions, job.input.images, job.output, strict=True):
        probs = inference.probabilities(inputs.model, inputs.spec, inputs.images(images), job.params.batch_size,
                                        inputs.device)
        frame = predictions.predictions_frame(split.ids, split.labels, probs)
        params = {**dict(job.wildcards.items()), "perturbation": name, "severity": str(severity),
                  "batch_size": job.params.batch_size}
        io.save_parquet(path, frame, io.provenance(params, class_names=list(split.class_names)))
        logging.info("%s %s: accuracy %.4f on %d images", name, severity, frame["correct"].mean(), len(frame))
