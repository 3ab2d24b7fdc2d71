"""Model-randomisation test for one method: maps of the trained and of a top-randomised model, compared."""

import logging

import numpy as np
import pandas as pd
import torch

from camsweep import cams, io, maps as saliency_maps, regions, sanity, shards
from camsweep.data import check_ids, load_images, load_split
from camsweep.metrics import localisation
from camsweep.models import classifiers
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(job.input.model, device)
    whole = load_split(job.input.split)
    images = load_images(job.input.images, whole)
    rows = shards.job_rows(job)  # this job's shard of the test split (all of it when unsharded)
    split = shards.take(whole, rows)
    trained_maps, meta = io.load_npz(job.input.maps)
    check_ids(trained_maps["ids"], split, job.input.maps)
    method = job.wildcards.method
    layers = list(job.params.layers)
    top = sanity.modules_from(model, job.params.sanity["randomise_from"])
    randomised = sanity.randomised_copy(model, top=top, seed=job.params.seed).to(device)
    inputs = classifiers.preprocess(images[rows], spec)
    targets = trained_maps["targets"]  # explain the same class with both models
    random_maps = cams.compute(randomised, inputs, method, layers, targets, settings=cams.CamSettings(**job.params.settings))
    size = split.images.shape[1:3]
    box_regions = regions.boxes_to_masks(split.boxes, size) if split.has_masks else None
    frames = []
    for layer in layers:
        trained = saliency_maps.upsample(trained_maps[layer], size)
        random = saliency_maps.upsample(random_maps[layer].numpy(), size)
        frame = pd.DataFrame({"id": split.ids.astype(str), "layer": layer})
        for name, values in sanity.map_similarity(trained, random).items():
            frame[name] = values
        if split.has_masks:  # energy pointing games need no threshold: no localisation settings here
            for model_name, stack in (("trained", trained), ("randomised", random)):
                normalised = saliency_maps.normalise(stack)
                for kind, truth in (("box", box_regions), ("mask", split.masks)):
                    energy = localisation.energy_pointing_game(normalised, truth)
                    frame[f"energy_pg_{kind}_{model_name}"] = np.where(truth.any(axis=(1, 2)), energy, np.nan)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    params = {**dict(job.wildcards.items()), "layers": layers, "randomised_modules": top, **job.params.sanity}
    io.save_parquet(job.output[0], frame, io.provenance(params))
    logging.info("%s: randomised the top %d parameter-owning modules; mean rank correlation %s", method, top,
                 frame.groupby("layer")["rank_correlation"].mean().round(3).to_dict())
