"""One shortcut-study model on the three test sets (marker correlated, absent, shuffled): predictions and,
per image, where its map for the predicted class lies (EPG against box and mask, pointing game, and S3's
hard-threshold ratio)."""

import logging

import pandas as pd
import torch

from camsweep import attention, cams, inference, io, maps, predictions
from camsweep.data import load_split
from camsweep.metrics import localisation
from camsweep.models import classifiers
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(job.input.model, device)
    method, layer = job.params.explain["method"], job.params.explain["layer"]
    settings = localisation.LocalisationSettings.from_config(job.params.metrics)
    frames = []
    for marker, path in zip(job.params.markers, job.input.tests, strict=True):
        split = load_split(path)
        probs = inference.probabilities(model, spec, split.images, device=device)
        frame = predictions.predictions_frame(split.ids, split.labels, probs)
        layer_maps = cams.compute(model, classifiers.preprocess(split.images, spec), method, [layer], frame["prediction"].to_numpy())[layer]
        upsampled = maps.upsample(layer_maps.numpy(), split.images.shape[1:3])
        scores = localisation.scores(upsampled, split.masks, split.boxes, settings)
        for name in ("energy_pg_box", "energy_pg_mask", "pointing_game_mask"):
            frame[name] = scores[name]
        frame["hard_ratio"] = attention.hard_threshold_ratio(layer_maps, torch.as_tensor(split.masks), job.params.threshold).numpy()
        frame.insert(0, "marker", marker)
        frames.append(frame)
        logging.info("%s: accuracy %.4f, mean mask EPG %.4f", marker, frame["correct"].mean(), frame["energy_pg_mask"].mean())
    params = {**dict(job.wildcards.items()), "explain": job.params.explain, "threshold": job.params.threshold}
    io.save_parquet(job.output[0], pd.concat(frames, ignore_index=True), io.provenance(params, class_names=list(split.class_names)))
