"""Segmentation-ablation figure: input, ground truth, prediction, raw map at layer resolution, resized map and overlay for the
first test images, for one method at the first of its configured layers."""

from camsweep import io, plots
from camsweep.data import check_ids, load_split
from camsweep.studies.segmentation_ablation.figures import map_panels
from camsweep.scripting import job_context

with job_context(globals()) as job:
    maps, meta = io.load_npz(job.input.maps)
    predicted, _ = io.load_npz(job.input.test_masks)
    count = min(job.params.examples, len(maps["ids"]))
    split = load_split(job.input.split)
    check_ids(predicted["ids"], split, job.input.test_masks)
    split = split.subset(slice(0, count))
    check_ids(maps["ids"][:count], split, job.input.maps)
    layer = meta["layers"][0]
    figure = map_panels(
        split.images, split.masks, predicted["masks"][:count], maps[layer][:count], split.ids.astype(str),
        job.wildcards.method, layer,
    )
    plots.save(figure, job.output.png, job.output.pdf)
