"""Perturb the test split with every condition (corruption, severity); ("none", 0) copies the clean images.
Outputs follow params.conditions, one file each."""

import logging

from camsweep import io, perturb, seeding
from camsweep.data import load_split
from camsweep.scripting import job_context

with job_context(globals()) as job:
    dataset = job.wildcards.dataset
    split = load_split(job.input[0])
    for (name, severity), path in zip(job.params.conditions, job.output, strict=True):
        if (name, severity) == perturb.CLEAN:
            images = split.images
        else:
            seeds = [seeding.int_seed(job.params.seed, "perturb", dataset, image_id, name, severity)
                     for image_id in split.ids]
            images = perturb.corrupt_batch(split.images, name, severity, seeds)
        params = {"perturbation": name, "severity": severity, "dataset": dataset}
        io.save_npz(path, {"images": images, "ids": split.ids}, io.provenance(params, seed=job.params.seed))
        logging.info("%s severity %d: %d images", name, severity, len(images))
