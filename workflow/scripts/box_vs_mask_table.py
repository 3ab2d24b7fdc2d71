"""The box-versus-mask study's Table 1 from the CAM metric table: each metric corrected and seed-compatible
side by side on clean images, published averages beside the run of the study's network (params.architectures:
model → architecture). The CAM table's values are copied, not recomputed, so reading them back from its CSV
loses nothing."""

import pandas as pd

from camsweep import io
from camsweep.scripting import job_context
from camsweep.studies.box_vs_mask import tables

with job_context(globals()) as job:
    cam_table = pd.read_csv(job.input[0], dtype={"dataset": str, "model": str, "method": str, "layer": str,
                                                 "perturbation": str, "metric": str})
    io.save_csv(job.output[0], tables.table1(cam_table, dict(job.params.architectures), job.params.baselines))
