"""Per-image localisation and stability scores of one method's maps, every condition (params.conditions
order; the clean maps, condition ("none", 0), are the stability reference)."""

import dataclasses
import logging

from camsweep import io, scoring, shards
from camsweep.data import check_ids, load_split
from camsweep.metrics.localisation import LocalisationSettings
from camsweep.perturb import CLEAN
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
    conditions = [tuple(condition) for condition in job.params.conditions]
    clean_path = job.input.maps[conditions.index(CLEAN)]
    clean, _ = io.load_npz(clean_path)
    check_ids(clean["ids"], split, clean_path)
    settings = LocalisationSettings.from_config(options)
    for (name, severity), maps_path, scores_path, wsol_path in zip(
        conditions, job.input.maps, job.output.scores, job.output.wsol, strict=True
    ):
        maps, meta = io.load_npz(maps_path)
        check_ids(maps["ids"], split, maps_path)
        layers = meta["layers"]
        frame = scoring.score_maps(
            {layer: maps[layer] for layer in layers}, {layer: clean[layer] for layer in layers}, split, settings,
            options["stability_scale"], targets=maps["targets"],
        )
        undefined = int(frame["iou_mask"].isna().sum())
        if undefined:
            logging.warning("%s %s: %d (image, layer) rows have no ground-truth region: localisation metrics are NaN",
                            name, severity, undefined)
        params = {**dict(job.wildcards.items()), "perturbation": name, "severity": str(severity), "metrics": options}
        provenance = io.provenance(params)
        io.save_parquet(scores_path, frame, provenance)
        evidence = scoring.wsol_evidence({layer: maps[layer] for layer in layers}, split)
        io.save_npz(wsol_path, {**evidence, "ids": split.ids}, {**provenance, "layers": layers})
        logging.info("%s %s: scored %d maps over layers %s", name, severity, len(frame), layers)
