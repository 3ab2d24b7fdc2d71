"""Train one classifier on one dataset; save checkpoint, training curve and test metrics."""

import logging

import pandas as pd
import torch

from camsweep import inference, io
from camsweep.data import load_split
from camsweep.metrics import classification
from camsweep.models import classifiers, training
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    options = job.params.model
    device = classifiers.resolve_device(job.params.device)
    train_set, val_set, test_set = (load_split(job.input[k]) for k in ("train", "val", "test"))
    spec = classifiers.ClassifierSpec(
        architecture=options["architecture"], num_classes=len(train_set.class_names),
        stem=options["stem"], last_stride=options["last_stride"],
        mean=tuple(float(m) for m in train_set.images.mean(axis=(0, 1, 2)) / 255.0),
        std=tuple(float(s) for s in train_set.images.std(axis=(0, 1, 2)) / 255.0),
    )
    settings = training.TrainSettings(**options["train"])
    model, history = training.train(spec, train_set, val_set, settings, job.params.seed, device)
    probs = inference.probabilities(model, spec, test_set.images, device=device)
    test_metrics = {
        "test_accuracy": float(classification.accuracy(test_set.labels, probs)),
        "test_roc_auc": float(classification.roc_auc(test_set.labels, probs)),
        "train_seconds": sum(epoch["seconds"] for epoch in history),
        "precision": history[-1]["precision"],
        "class_names": list(train_set.class_names),
    }
    logging.info("test accuracy %.4f, ROC-AUC %.4f, %.0f s", test_metrics["test_accuracy"],
                 test_metrics["test_roc_auc"], test_metrics["train_seconds"])
    meta = io.provenance({"model": options, "device": job.params.device}, seed=job.params.seed, **test_metrics)
    classifiers.save_checkpoint(job.output.model, model.cpu(), spec, meta)
    io.save_csv(job.output.history, pd.DataFrame(history).drop(columns="seconds"))
    io.save_json(job.output.metrics, meta)
