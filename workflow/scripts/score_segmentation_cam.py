"""The segmentation-ablation study: per-image localisation scores of a segmenter's maps, with the same metrics as classifier maps."""

import logging

from camsweep import io, scoring
from camsweep.data import check_ids, load_split
from camsweep.metrics.localisation import LocalisationSettings
from camsweep.scripting import job_context

with job_context(globals()) as job:
    maps, meta = io.load_npz(job.input.maps)
    split = load_split(job.input.split)
    split = split.subset(slice(0, len(maps["ids"])))
    check_ids(maps["ids"], split, job.input.maps)
    layers = meta["layers"]
    layer_maps = {layer: maps[layer] for layer in layers}
    settings = LocalisationSettings.from_config(job.params.metrics)
    # No perturbation here, so no stability column: the maps are their own clean reference.
    frame = scoring.score_maps(layer_maps, layer_maps, split, settings, targets=maps["targets"]).drop(columns="cam_rmse")
    io.save_parquet(job.output[0], frame, io.provenance({**dict(job.wildcards.items()), "metrics": job.params.metrics}))
    logging.info("scored %d maps over layers %s", len(frame), layers)
