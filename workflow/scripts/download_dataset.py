"""Locate a real dataset's raw files, downloading them where the source allows and the config asks;
record what was found. Fails with the expected layout when the files can be neither found nor fetched."""

import logging

from camsweep import io
from camsweep.data import sources
from camsweep.scripting import job_context

with job_context(globals()) as job:
    record = sources.fetch(job.params.name, job.params.dataset)
    io.save_json(job.output[0], io.provenance({"dataset": job.params.dataset}, **record))
    logging.info("%s: %s", job.params.name, record)
