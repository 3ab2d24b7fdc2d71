"""Perturb the test split with one corruption at one severity; ("none", 0) copies the clean images."""

import logging

from camsweep import io, perturb, seeding
from camsweep.data import load_split
from camsweep.scripting import job_context

with job_context(globals()) as job:
    name, severity = job.wildcards.perturbation, int(job.wildcards.severity)
    split = load_split(job.input[0])
    if (name, severity) == perturb.CLEAN:
        images = split.images
    else:
        seeds = [seeding.int_seed(job.params.seed, "perturb", job.wildcards.dataset, image_id, name, severity)
                 for image_id in split.ids]
        images = perturb.corrupt_batch(split.images, name, severity, seeds)
    params = {"perturbation": name, "severity": severity, "dataset": job.wildcards.dataset}
    io.save_npz(job.output[0], {"images": images, "ids": split.ids}, io.provenance(params, seed=job.params.seed))
    logging.info("%s severity %d: %d images", name, severity, len(images))
