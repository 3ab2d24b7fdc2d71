"""A segmenter's predicted regions for one split: the largest component of the predicted foreground, the
whole foreground (every component), the component's box, and the box around every contour (the attention
study's lung box). An empty prediction falls back to the whole image (logged, and flagged in ``empty``)."""

import logging

import torch

from camsweep import io, segmented_regions
from camsweep.data import load_split
from camsweep.models import classifiers, segmentation
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = segmentation.load_checkpoint(job.input.model, device, expected_channels=tuple(job.params.channels))
    split = load_split(job.input.split)
    probabilities = segmentation.predict(model, spec, split.images, job.params.batch_size, device)
    found = segmented_regions.regions_from_masks(segmentation.foreground_masks(probabilities), split.ids)
    arrays = {"masks": found.masks, "boxes": found.boxes, "union_boxes": found.union_boxes, "empty": found.empty,
              "foreground": found.foreground, "ids": split.ids}
    io.save_npz(job.output[0], arrays, io.provenance(dict(job.wildcards.items()), empty=int(found.empty.sum())))
    logging.info("%d images, %d with an empty prediction (whole image used)", len(split), int(found.empty.sum()))
