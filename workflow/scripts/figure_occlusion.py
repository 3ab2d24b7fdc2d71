"""Occlusion curves of one segmenter: Dice, IoU, map RMSE and EPG against the occluded share of the
foreground and of the background."""

import pandas as pd

from camsweep import plots
from camsweep.studies.segmentation_ablation.figures import occlusion_curves
from camsweep.scripting import job_context

with job_context(globals()) as job:
    table = pd.read_csv(job.input[0])
    table = table[table["segmenter"] == job.wildcards.segmenter]
    if table.empty:
        raise ValueError(f"{job.input[0]} has no rows for segmenter {job.wildcards.segmenter!r}")
    plots.save(occlusion_curves(table), job.output.png, job.output.pdf)
