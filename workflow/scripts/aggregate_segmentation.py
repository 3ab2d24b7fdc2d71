"""Segmentation-ablation tables: each segmenter's test Dice/IoU, its maps' localisation scores, and the
occlusion curves, all as means with image-bootstrap CIs. Each input's keys come in params.<input name>."""

import pandas as pd

from camsweep import io, stats
from camsweep.scripting import job_context
from camsweep.studies.segmentation_ablation import tables

with job_context(globals()) as job:
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])

    def keyed(name):
        return [(keys, pd.read_parquet(path)) for path, keys in zip(getattr(job.input, name), getattr(job.params, name), strict=True)]

    io.save_csv(job.output.segmenters, tables.segmenter_table(keyed("test_scores"), settings, job.params.seed))
    io.save_csv(job.output.cams, tables.segmentation_cam_table(keyed("cam_scores"), settings, job.params.seed))
    io.save_csv(job.output.occlusion, tables.occlusion_table(keyed("occlusion"), settings, job.params.seed))
