"""Train one classifier on one dataset (with S3's attention term if configured); save checkpoint, training
curve and the classification report on the test split."""

import logging

import numpy as np
import pandas as pd
import torch

from camsweep import attention, inference, io, regions, segmented_regions
from camsweep.data import check_ids, load_split
from camsweep.metrics import classification
from camsweep.models import classifiers, training
from camsweep.scripting import job_context


def attention_settings(options: dict, class_names: tuple[str, ...]) -> attention.AttentionSettings:
    unknown = [name for name in options["skip_classes"] if name not in class_names]
    if unknown:
        raise ValueError(f"train.attention.skip_classes: {unknown} are not classes of the dataset {list(class_names)}")
    return attention.AttentionSettings(
        layer=options["layer"], ce_weight=options["ce_weight"], loss=options["loss"], threshold=options["threshold"],
        temperature=options["temperature"], skip_classes=tuple(class_names.index(name) for name in options["skip_classes"]),
    )


def attention_regions(split, options: dict, path: str | None) -> np.ndarray:
    """(N, H, W) regions where the CAM should be: the split's own masks, or a segmenter's prediction."""
    if path is None:
        if not split.has_masks:
            raise ValueError("train.attention.region is 'truth' but the dataset has no masks; name a segmenter instead")
        found = segmented_regions.PredictedRegions(
            masks=split.masks, boxes=split.boxes, union_boxes=regions.boxes_from_masks(split.masks),
            empty=~split.masks.any(axis=(1, 2)),
        )
    else:
        arrays, _ = io.load_npz(path)
        check_ids(arrays["ids"], split, path)
        found = segmented_regions.PredictedRegions(arrays["masks"], arrays["boxes"], arrays["union_boxes"], arrays["empty"])
    return segmented_regions.region_masks(found, options["region_shape"])


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
    train_options = dict(options["train"])
    attention_options = train_options.pop("attention")
    extra = {}
    if attention_options is not None:
        region_files = list(job.input.regions) if "regions" in dict(job.input.items()) else []
        train_regions_path, val_regions_path = region_files if region_files else (None, None)
        extra = {
            "attention": attention_settings(attention_options, train_set.class_names),
            "train_regions": attention_regions(train_set, attention_options, train_regions_path),
            "val_regions": attention_regions(val_set, attention_options, val_regions_path),
        }
    settings = training.TrainSettings(**train_options)
    model, history = training.train(spec, train_set, val_set, settings, job.params.seed, device, **extra)
    probs = inference.probabilities(model, spec, test_set.images, device=device)
    report = {f"test_{name}": float(value) for name, value in classification.report(test_set.labels, probs).items()}
    test_metrics = {
        **report,
        "train_seconds": sum(epoch["seconds"] for epoch in history),
        "precision": history[-1]["precision"],
        "class_names": list(train_set.class_names),
    }
    logging.info("test %s; %.0f s", ", ".join(f"{k} {v:.4f}" for k, v in report.items()), test_metrics["train_seconds"])
    meta = io.provenance({"model": options, "device": job.params.device}, seed=job.params.seed, **test_metrics)
    classifiers.save_checkpoint(job.output.model, model.cpu(), spec, meta)
    io.save_csv(job.output.history, pd.DataFrame(history).drop(columns="seconds"))
    io.save_json(job.output.metrics, meta)
