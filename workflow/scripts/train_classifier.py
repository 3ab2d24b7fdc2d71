"""Train one classifier on one dataset (with S3's attention term and S2's augmentation if configured), or take
pretrained weights as they are; save checkpoint, training curve and the classification report on the test split.

params.model is models.<name> (defaults filled). Its start (camsweep.models.pretrained.initialise_classifier):
``weights: imagenet`` (ImageNet mean/std), ``checkpoint`` (a camsweep checkpoint keeps its own mean/std; any
other file gets ImageNet mean/std, torchvision's convention), or random init (the train split's mean/std).
``train.epochs: 0`` trains nothing: the history CSV then has the header only (the columns of a training run
without attention), and a kept ImageNet head (weights imagenet) gets no classification report (its classes are
not the dataset's): the metrics record ``explains: imagenet`` and the 1000 ImageNet class names instead.
``train.augmentation`` extends the train split with perturbed copies (camsweep.augment) before training; the
normalisation statistics stay those of the clean train split, so a run with and one without it differ only in
the images they learn from."""

import logging

import numpy as np
import pandas as pd
import torch

from camsweep import attention, augment, inference, io, regions, segmented_regions
from camsweep.data import check_ids, load_split
from camsweep.metrics import classification
from camsweep.models import classifiers, pretrained, training
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


def normalisation(options: dict, train_set) -> dict:
    """mean/std for the spec: the train split's for a random start; ImageNet's otherwise (initialise_classifier
    then keeps them, or replaces them by a camsweep checkpoint's own)."""
    if options["weights"] is not None or options["checkpoint"] is not None:
        return {"mean": classifiers.IMAGENET_MEAN, "std": classifiers.IMAGENET_STD}
    return {
        "mean": tuple(float(m) for m in train_set.images.mean(axis=(0, 1, 2)) / 255.0),
        "std": tuple(float(s) for s in train_set.images.std(axis=(0, 1, 2)) / 255.0),
    }


with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    options = job.params.model
    device = classifiers.resolve_device(job.params.device)
    train_set, val_set, test_set = (load_split(getattr(job.input, k)) for k in ("train", "val", "test"))
    inputs = dict(job.input.items())
    train_options = dict(options["train"])
    attention_options = train_options.pop("attention")
    augmentation = train_options.pop("augmentation")
    settings = training.TrainSettings(**train_options)
    if settings.epochs > 0 and len(train_set) == 0:  # a random start always trains (the config check)
        raise ValueError(f"{job.input.train}: the train split is empty; train.epochs {settings.epochs} has nothing to train on")
    spec = classifiers.ClassifierSpec(
        architecture=options["architecture"], num_classes=len(train_set.class_names),
        stem=options["stem"], last_stride=options["last_stride"], width=options["width"], **normalisation(options, train_set),
    )
    start = pretrained.initialise_classifier(
        spec, train_set.class_names, options["weights"], inputs.get("checkpoint") or options["checkpoint"],
        job.params.seed, finetune=settings.epochs > 0,
    )
    spec = start.spec
    logging.info("start: %s (%d classes, explains %s)", start.source, spec.num_classes, start.explains)
    added = 0
    if settings.epochs > 0:
        clean_train = train_set
        if augmentation is not None:
            train_set = augment.extend_with_perturbations(
                clean_train, augmentation["perturbations"], augmentation["severities"], job.params.seed
            )
            added = len(train_set) - len(clean_train)
            logging.info("augmentation: %d perturbed copies added to %d train images (%s × severities %s)", added,
                         len(clean_train), ", ".join(augmentation["perturbations"]), augmentation["severities"])
        extra = {}
        if attention_options is not None:
            region_files = list(job.input.regions) if "regions" in inputs else []
            train_regions_path, val_regions_path = region_files if region_files else (None, None)
            copies = len(train_set) // len(clean_train)  # perturbed copies keep their image's region
            extra = {
                "attention": attention_settings(attention_options, clean_train.class_names),
                "train_regions": np.concatenate([attention_regions(clean_train, attention_options, train_regions_path)] * copies),
                "val_regions": attention_regions(val_set, attention_options, val_regions_path),
            }
        # A random start is train()'s own init_model (the same model), so such runs are unchanged.
        initial = None if start.source == "random" else start.model
        model, history = training.train(spec, train_set, val_set, settings, job.params.seed, device, initial_model=initial, **extra)
    else:
        model, history = start.model.to(device).eval(), []
        logging.info("train.epochs is 0: no training, the %s weights are used as they are", start.source)
    report = {}
    if start.explains == "dataset":
        probs = inference.probabilities(model, spec, test_set.images, device=device)
        report = {f"test_{name}": float(value) for name, value in classification.report(test_set.labels, probs).items()}
        logging.info("test %s", ", ".join(f"{k} {v:.4f}" for k, v in report.items()))
    else:
        logging.info("ImageNet head kept: no classification report (its 1000 classes are not the dataset's)")
    test_metrics = {
        **report,
        "train_seconds": sum(epoch["seconds"] for epoch in history),
        "precision": history[-1]["precision"] if history else None,  # null: no training
        "class_names": list(start.class_names),
        "explains": start.explains,
        "initialisation": start.source,
        "augmented_images": added,
    }
    logging.info("trained in %.0f s", test_metrics["train_seconds"])
    meta = io.provenance({"model": options, "device": job.params.device}, seed=job.params.seed, **test_metrics)
    classifiers.save_checkpoint(job.output.model, model.cpu(), spec, meta)
    columns = [column for column in training.HISTORY_COLUMNS if column != "seconds"]
    io.save_csv(job.output.history, pd.DataFrame(history).drop(columns="seconds") if history else pd.DataFrame(columns=columns))
    io.save_json(job.output.metrics, meta)
