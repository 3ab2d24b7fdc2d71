"""Merge one artifact's shard files (in plan order) into the file an unsharded job writes."""

import logging

import pandas as pd

from camsweep import io, shards
from camsweep.scripting import job_context

with job_context(globals()) as job:
    inputs = dict(job.input.items())
    for name, path in job.output.items():
        sources = list(inputs[name])
        if path.endswith(".npz"):
            arrays, meta = shards.merge_npz(sources)
            io.save_npz(path, arrays, meta)
        else:
            frames = [pd.read_parquet(source) for source in sources]
            meta = shards.merged_provenance([io.load_parquet_meta(source) for source in sources], sources)
            io.save_parquet(path, shards.merge_frames(frames), meta)
        logging.info("%s: merged %d shards", path, len(sources))
