"""One training run per workflow rule, from loaded splits and the rule's config section to what it saves:
a classifier (train_classifier: pretrained start, the robustness study's augmentation, the attention study's attention term, test report) and a
segmenter (train_segmenter: test Dice/IoU and predicted masks)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from camsweep import attention, augment, inference, io, regions, segmented_regions
from camsweep.data.imageset import ImageSet, check_ids
from camsweep.metrics import classification
from camsweep.metrics import segmentation as segmentation_metrics
from camsweep.models import classifiers, pretrained, segmentation, training
from camsweep.spelling import did_you_mean

logger = logging.getLogger(__name__)


def attention_settings(options: dict, class_names: tuple[str, ...]) -> attention.AttentionSettings:
    unknown = [name for name in options["skip_classes"] if name not in class_names]
    if unknown:
        raise ValueError(f"train.attention.skip_classes: {unknown} are not classes of the dataset {list(class_names)}")
    return attention.AttentionSettings(
        layer=options["layer"], ce_weight=options["ce_weight"], loss=options["loss"], threshold=options["threshold"],
        temperature=options["temperature"], skip_classes=tuple(class_names.index(name) for name in options["skip_classes"]),
    )


def region_parts(options: dict, class_names: tuple[str, ...]) -> dict[int, str]:
    """train.attention.region_by_class as {label: box part}, its class names checked against the dataset's."""
    # The schema gives region_by_class no default, so that configs without it keep their recorded options.
    by_class = options.get("region_by_class") or {}
    unknown = [name for name in by_class if name not in class_names]
    if unknown:
        hint = did_you_mean(unknown[0], class_names)
        raise ValueError(f"train.attention.region_by_class: {unknown} are not classes of the dataset {list(class_names)}{hint}")
    return {class_names.index(name): part for name, part in by_class.items()}


def attention_regions(split: ImageSet, options: dict, path: str | None) -> np.ndarray:
    """(N, H, W) regions where the CAM should be: the split's own masks, or a segmenter's prediction, in
    ``region_shape``, or per label the part of its box that ``region_by_class`` names."""
    if path is None:
        if not split.has_masks:
            raise ValueError("train.attention.region is 'truth' but the dataset has no masks; name a segmenter instead")
        found = segmented_regions.PredictedRegions(
            masks=split.masks, boxes=split.boxes, union_boxes=regions.boxes_from_masks(split.masks),
            empty=~split.masks.any(axis=(1, 2)), foreground=split.masks,
        )
    else:
        arrays, _ = io.load_npz(path)
        check_ids(arrays["ids"], split, path)
        found = segmented_regions.PredictedRegions(
            arrays["masks"], arrays["boxes"], arrays["union_boxes"], arrays["empty"], arrays.get("foreground"),
        )
    parts = region_parts(options, split.class_names)
    return segmented_regions.regions_by_label(found, options["region_shape"], split.labels, parts)


def normalisation(options: dict, train_set: ImageSet) -> dict:
    """mean/std for the spec: the train split's for a random start; ImageNet's otherwise (initialise_classifier
    then keeps them, or replaces them by a camsweep checkpoint's own)."""
    if options["weights"] is not None or options["checkpoint"] is not None:
        return {"mean": classifiers.IMAGENET_MEAN, "std": classifiers.IMAGENET_STD}
    return {
        "mean": tuple(float(m) for m in train_set.images.mean(axis=(0, 1, 2)) / 255.0),
        "std": tuple(float(s) for s in train_set.images.std(axis=(0, 1, 2)) / 255.0),
    }


@dataclass(frozen=True)
class TrainedClassifier:
    model: nn.Module  # on the CPU, eval mode
    spec: classifiers.ClassifierSpec
    history: pd.DataFrame  # one row per epoch, without seconds
    meta: dict[str, Any]  # provenance with the test report; the checkpoint's meta and the metrics file


def train_classifier(
    train_set: ImageSet, val_set: ImageSet, test_set: ImageSet, options: dict, seed: int, device: str,
    checkpoint: str | None = None, region_files: list[str] | tuple[str, ...] = (), train_source: str = "train",
) -> TrainedClassifier:
    """Train (or take as it is, ``train.epochs: 0``) classifier ``options`` (a config's models.<name>, defaults
    filled) and report it on ``test_set``. ``checkpoint`` is the rule's checkpoint input (else the config's);
    ``region_files`` the attention regions of train and val from a segmenter (empty: the splits' masks);
    ``train_source`` names the train split in errors (its file).

    The normalisation statistics are those of the clean train split, so a run with and one without
    augmentation differ only in the images they learn from; the perturbed copies are made per batch."""
    resolved_device = classifiers.resolve_device(device)
    train_options = dict(options["train"])
    attention_options = train_options.pop("attention")
    augmentation = train_options.pop("augmentation")
    settings = training.TrainSettings(**train_options)
    if settings.epochs > 0 and len(train_set) == 0:  # a random start always trains (the config check)
        raise ValueError(f"{train_source}: the train split is empty; train.epochs {settings.epochs} has nothing to train on")
    spec = classifiers.ClassifierSpec(
        architecture=options["architecture"], num_classes=len(train_set.class_names),
        stem=options["stem"], last_stride=options["last_stride"], width=options["width"], **normalisation(options, train_set),
    )
    start = pretrained.initialise_classifier(
        spec, train_set.class_names, options["weights"], checkpoint or options["checkpoint"], seed, finetune=settings.epochs > 0,
    )
    spec = start.spec
    logger.info("start: %s (%d classes, explains %s)", start.source, spec.num_classes, start.explains)
    added = 0
    if settings.epochs > 0:
        train_images = train_set
        if augmentation is not None:
            train_images = augment.AugmentedSplit(train_set, augmentation["perturbations"], augmentation["severities"], seed)
            added = train_images.added
            logger.info("augmentation: %d perturbed copies added to %d train images (%s × severities %s)", added,
                        len(train_set), ", ".join(augmentation["perturbations"]), augmentation["severities"])
        objective = None
        if attention_options is not None:
            train_regions_path, val_regions_path = region_files if region_files else (None, None)
            objective = attention.AttentionObjective(
                attention_settings(attention_options, train_set.class_names),
                attention_regions(train_set, attention_options, train_regions_path),
                attention_regions(val_set, attention_options, val_regions_path),
            )
        # A random start is train()'s own init_model (the same model), so such runs are unchanged.
        initial = None if start.source == "random" else start.model
        model, history = training.train(
            spec, train_images, val_set, settings, seed, resolved_device, objective=objective, initial_model=initial
        )
    else:
        model, history = start.model.to(resolved_device).eval(), []
        logger.info("train.epochs is 0: no training, the %s weights are used as they are", start.source)
    report = {}
    if start.explains == "dataset":
        probs = inference.probabilities(model, spec, test_set.images, device=resolved_device)
        report = {f"test_{name}": float(value) for name, value in classification.report(test_set.labels, probs).items()}
        logger.info("test %s", ", ".join(f"{k} {v:.4f}" for k, v in report.items()))
    else:
        logger.info("ImageNet head kept: no classification report (its 1000 classes are not the dataset's)")
    test_metrics = {
        **report,
        "train_seconds": sum(epoch["seconds"] for epoch in history),
        "precision": history[-1]["precision"] if history else None,  # null: no training
        "class_names": list(start.class_names),
        "explains": start.explains,
        "initialisation": start.source,
        "augmented_images": added,
    }
    logger.info("trained in %.0f s", test_metrics["train_seconds"])
    meta = io.provenance({"model": options, "device": device}, seed=seed, **test_metrics)
    columns = [column for column in training.HISTORY_COLUMNS if column != "seconds"]
    curves = pd.DataFrame(history).drop(columns="seconds") if history else pd.DataFrame(columns=columns)
    return TrainedClassifier(model.cpu(), spec, curves, meta)


@dataclass(frozen=True)
class TrainedSegmenter:
    model: nn.Module  # on the CPU, eval mode
    spec: segmentation.SegmenterSpec
    history: pd.DataFrame  # one row per epoch, without seconds
    meta: dict[str, Any]  # provenance with the test summary
    test_scores: pd.DataFrame  # per test image: id, label, dice, iou, predicted_empty
    test_masks: np.ndarray  # predicted foreground (N, H, W) of the test images


def train_segmenter(
    train_set: ImageSet, val_set: ImageSet, test_set: ImageSet, options: dict, seed: int, device: str
) -> TrainedSegmenter:
    """Train segmenter ``options`` (a config's segmenters.<name>, defaults filled) and score its test masks."""
    resolved_device = classifiers.resolve_device(device)
    spec = segmentation.spec_for(train_set, options["masks"], tuple(options["widths"]))
    settings = segmentation.SegmenterTrainSettings(**options["train"])
    model, history = segmentation.train(spec, train_set, val_set, settings, seed, resolved_device)
    probabilities = segmentation.predict(model, spec, test_set.images, device=resolved_device)
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
    logger.info("test Dice %.4f, IoU %.4f; trained in %.0f s", summary["test_dice"], summary["test_iou"], summary["train_seconds"])
    meta = io.provenance({"segmenter": options, "device": device}, seed=seed, **summary)
    return TrainedSegmenter(model.cpu(), spec, pd.DataFrame(history).drop(columns="seconds"), meta, scores, foreground)
