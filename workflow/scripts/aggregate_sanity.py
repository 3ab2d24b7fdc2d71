"""Model-randomisation tables, with bootstrap CIs: the check (step 0: per method and layer, similarity of
trained and randomised maps and their energy pointing games; ``fails_check`` flags maps that barely change)
and the cascading and independent test (per method, layer, variant and step)."""

import pandas as pd

from camsweep import io, stats, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    frames = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        frames.append(pd.read_parquet(path).assign(**keys))
    frame = pd.concat(frames, ignore_index=True)
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    io.save_csv(job.output.table, tables.sanity_table(frame, settings, job.params.seed, job.params.threshold))
    io.save_csv(job.output.cascade,
                tables.cascading_randomisation_table(frame, settings, job.params.seed, job.params.threshold))
