"""Read a real dataset's raw files into the prepared split format (train, val, test)."""

import logging

from camsweep import io
from camsweep.data import save_split, sources
from camsweep.scripting import job_context

with job_context(globals()) as job:
    splits = sources.prepare(job.params.name, job.params.dataset, job.params.seed)
    for split, path in zip(("train", "val", "test"), job.output, strict=True):
        images = splits[split]
        save_split(path, images, io.provenance({"dataset": job.params.dataset, "split": split}, seed=job.params.seed))
        logging.info("%s: %d images of %s px, masks: %s", split, len(images), images.images.shape[1:3], images.has_masks)
