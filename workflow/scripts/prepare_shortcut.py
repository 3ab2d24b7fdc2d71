"""The shortcut study's data: a synthetic dataset with its class marker in the train/val images, and three
test sets of the same images with the marker as in training, absent, and shuffled to another class.

Images are drawn from the same per-image generators as the dataset itself and the marker is drawn last,
so the test sets differ from each other (and from the plain dataset) only in the marker's pixels."""

import logging

from camsweep import io
from camsweep.data import save_split, synthetic
from camsweep.scripting import job_context

with job_context(globals()) as job:
    dataset = job.params.dataset
    probability = job.params.marker_probability
    # (split drawn, marker probability, marker mode) per output, in the rule's output order.
    plan = [("train", probability, "correlated"), ("val", probability, "correlated"),
            ("test", 1.0, "correlated"), ("test", 1.0, "absent"), ("test", 1.0, "shuffled")]
    for (split, chance, mode), path in zip(plan, job.output, strict=True):
        spec = synthetic.spec_from_config(dataset["synthetic"], chance, mode)
        images = synthetic.generate(spec, dataset["splits"][split], split, job.params.seed)
        params = {"dataset": dataset, "split": split, "marker_probability": chance, "marker_mode": mode}
        save_split(path, images, io.provenance(params, seed=job.params.seed))
        logging.info("%s (%s): %d images, %d with a marker", split, mode, len(images), images.meta["markers"])
