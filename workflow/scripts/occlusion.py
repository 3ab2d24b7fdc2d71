"""The occlusion study for one segmenter: occlude a growing share of the foreground, or of the background,
with a constant; record the segmentation's Dice/IoU and how the map moves."""

import logging

import numpy as np
import torch

from camsweep import cams, io
from camsweep.data import load_split
from camsweep.models import classifiers, segmentation
from camsweep.scripting import job_context
from camsweep.studies.segmentation_ablation import occlusion

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    options = job.params.segmenter["occlusion"]
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = segmentation.load_checkpoint(job.input.model, device, expected_channels=tuple(job.params.channels))
    channel = spec.channel_index(job.params.segmenter["cams"]["target"], f"segmenters.{job.wildcards.segmenter}.cams.target")
    split = load_split(job.input.split)
    split = split.subset(np.arange(min(options["images"], len(split))))
    frame = occlusion.occlusion_study(
        model, lambda images: segmentation.preprocess(images, spec), split.images, split.masks, split.ids,
        options["fractions"], method=options["method"], layer=options["layer"], target_class=channel,
        value=options["value"], pattern=options["pattern"], seed=job.params.seed,
        settings=cams.CamSettings(**job.params.settings), stability_scale=job.params.stability_scale,
    )
    params = {**dict(job.wildcards.items()), "occlusion": options, "seed": job.params.seed}
    io.save_parquet(job.output[0], frame, io.provenance(params))
    logging.info("%d rows: %d images × %d fractions × foreground/background", len(frame), len(split), len(options["fractions"]))
