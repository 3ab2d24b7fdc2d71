"""Train one U-Net segmenter on its dataset's masks; save checkpoint, training curve, per-image test
Dice/IoU and the predicted test masks."""

import logging

import numpy as np
import pandas as pd
import torch

from camsweep import io
from camsweep.data import load_split
from camsweep.metrics import segmentation as segmentation_metrics
from camsweep.models import classifiers, segmentation
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    options = job.params.segmenter
    device = classifiers.resolve_device(job.params.device)
    train_set, val_set, test_set = (load_split(job.input[k]) for k in ("train", "val", "test"))
    spec = segmentation.spec_for(train_set, options["masks"], tuple(options["widths"]))
    settings = segmentation.SegmenterTrainSettings(**options["train"])
    model, history = segmentation.train(spec, train_set, val_set, settings, job.params.seed, device)
    probabilities = segmentation.predict(model, spec, test_set.images, device=device)
    foreground = segmentation.foreground_masks(probabilities)
    scores = pd.DataFrame({
        "id": test_set.ids.astype(str), "label": test_set.labels,
        "dice": segmentation_metrics.dice(foreground, test_set.masks), "iou": segmentation_metrics.iou(foreground, test_set.masks),
        "predicted_empty": ~foreground.any(axis=(1, 2)),
    })
    summary = {
        "test_dice": float(scores["dice"].mean()), "test_iou": float(scores["iou"].mean()),
        "train_seconds": sum(epoch["seconds"] for epoch in history), "precision": history[-1]["precision"],
        "channels": list(spec.channel_names),
    }
    logging.info("test Dice %.4f, IoU %.4f; trained in %.0f s", summary["test_dice"], summary["test_iou"], summary["train_seconds"])
    meta = io.provenance({"segmenter": options, "device": job.params.device}, seed=job.params.seed, **summary)
    segmentation.save_checkpoint(job.output.model, model.cpu(), spec, meta)
    io.save_csv(job.output.history, pd.DataFrame(history).drop(columns="seconds"))
    io.save_json(job.output.metrics, meta)
    io.save_parquet(job.output.test_scores, scores, meta)
    io.save_npz(job.output.test_masks, {"masks": foreground, "ids": test_set.ids}, meta)
    if not np.isfinite(scores["dice"]).all():
        raise RuntimeError("non-finite Dice on the test split")
