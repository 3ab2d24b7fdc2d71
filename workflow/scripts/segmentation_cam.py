"""The segmentation-ablation study: one method's maps of a segmenter, for the configured output channel summed over a region (the
predicted mask, or the ground truth), on the first N test images, at the configured layers."""

import logging

import numpy as np
import torch

from camsweep import cams, io
from camsweep.cams.targets import RegionTargets
from camsweep.data import load_split
from camsweep.models import classifiers, segmentation
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    options = job.params.segmenter["cams"]
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = segmentation.load_checkpoint(job.input.model, device, expected_channels=tuple(job.params.channels))
    channel = spec.channel_index(options["target"], f"segmenters.{job.wildcards.segmenter}.cams.target")
    split = load_split(job.input.split)
    split = split.subset(np.arange(min(options["images"], len(split))))
    classes = torch.full((len(split),), channel, dtype=torch.int64)
    masks = None if options["region"] == "predicted" else torch.as_tensor(segmentation.targets_from(split, spec.masks) == channel)
    layer_maps = cams.compute(
        model, segmentation.preprocess(split.images, spec), job.wildcards.method, options["layers"],
        RegionTargets(classes, masks), settings=cams.CamSettings(**job.params.settings),
    )
    arrays = {layer: maps.numpy().astype(np.float32) for layer, maps in layer_maps.items()}
    params = {**dict(job.wildcards.items()), "cams": options, "settings": job.params.settings}
    io.save_npz(job.output[0], {**arrays, "ids": split.ids, "targets": classes.numpy()}, io.provenance(params, layers=options["layers"]))
    logging.info("%s: %d images, layers %s, channel %r over the %s region", job.wildcards.method, len(split),
                 options["layers"], options["target"], options["region"])
