"""Per-image localisation and stability scores of one method's maps for one condition."""

import dataclasses
import logging

from camsweep import io, scoring, shards
from camsweep.data import check_ids, load_split
from camsweep.metrics.localisation import LocalisationSettings
from camsweep.scripting import job_context

with job_context(globals()) as job:
    options = job.params.metrics
    split = load_split(job.input.split)
    if "regions" in dict(job.input.items()):  # datasets.<name>.regions_from: a segmenter's regions are the truth
        predicted, _ = io.load_npz(job.input.regions)
        check_ids(predicted["ids"], split, job.input.regions)
        split = dataclasses.replace(split, masks=predicted["masks"], boxes=predicted["boxes"])
        logging.info("ground truth: the segmenter's regions in %s", job.input.regions)
    split = shards.take(split, shards.job_rows(job))
    maps, meta = io.load_npz(job.input.maps)
    clean, _ = io.load_npz(job.input.clean_maps)
    check_ids(maps["ids"], split, job.input.maps)
    check_ids(clean["ids"], split, job.input.clean_maps)
    layers = meta["layers"]
    settings = LocalisationSettings.from_config(options)
    frame = scoring.score_maps(
        {layer: maps[layer] for layer in layers}, {layer: clean[layer] for layer in layers}, split, settings,
        options["stability_scale"], targets=maps["targets"],
    )
    undefined = int(frame["iou_mask"].isna().sum())
    if undefined:
        logging.warning("%d (image, layer) rows have no ground-truth region: localisation metrics are NaN", undefined)
    provenance = io.provenance({**dict(job.wildcards.items()), "metrics": options})
    io.save_parquet(job.output.scores, frame, provenance)
    evidence = scoring.wsol_evidence({layer: maps[layer] for layer in layers}, split)
    io.save_npz(job.output.wsol, {**evidence, "ids": split.ids}, {**provenance, "layers": layers})
    logging.info("scored %d maps over layers %s", len(frame), layers)
