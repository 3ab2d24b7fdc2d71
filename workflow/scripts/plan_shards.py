"""The shard plan of one dataset's test split: [start, stop) image ranges of shards.images images each."""

import logging

import numpy as np

from camsweep import shards
from camsweep.scripting import job_context

with job_context(globals()) as job:
    with np.load(job.input[0], allow_pickle=False) as archive:  # only the ids: the images may be large
        n_images = len(archive["ids"])
    shards.save_plan(job.output[0], n_images, job.params.images)
    logging.info("%d test images in shards of %d", n_images, job.params.images)
