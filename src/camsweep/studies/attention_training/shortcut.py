"""The shortcut demonstration: the training images carry a class-coloured marker outside the object; a
cross-entropy and an attention-trained model are tested with the marker as in training, absent, and
shuffled to another class (:func:`evaluate`), and summarised per training and test marker
(:func:`shortcut_table`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd
import torch
from torch import nn

from camsweep import attention, cams, inference, maps, predictions, seeding, stats, tables
from camsweep.data import ImageSet
from camsweep.metrics import localisation
from camsweep.models import classifiers
from camsweep.studies.attention_training import SHORTCUT_MARKERS, SHORTCUT_TRAININGS

log = logging.getLogger(__name__)

SHORTCUT_MAP_COLUMNS = ("energy_pg_box", "energy_pg_mask", "pointing_game_mask", "hard_ratio")


def shortcut_table(frame: pd.DataFrame, settings: stats.BootstrapSettings, seed: int) -> pd.DataFrame:
    """Per (dataset, model, training, marker): the classification report and the mean map scores of
    :data:`SHORTCUT_MAP_COLUMNS`, each with an image-bootstrap CI."""
    keys = ["dataset", "model", "training", "marker"]
    rows = []
    for group_keys, group in frame.groupby(keys, sort=True):
        row = {**dict(zip(keys, group_keys, strict=True)), **tables.report_columns(group, settings, seed, group_keys)}
        for metric in SHORTCUT_MAP_COLUMNS:
            mean, low, high, _ = stats.mean_ci(group[metric].to_numpy(float), settings,
                                               seeding.rng(seed, "shortcut", *group_keys, metric))
            row |= {metric: mean, f"{metric}_low": low, f"{metric}_high": high}
        rows.append(row)
    # The order the study reads: cross-entropy first; the marker as trained, then the tests that break it.
    table = pd.DataFrame(rows).assign(
        _training=lambda t: t["training"].map(SHORTCUT_TRAININGS.index), _marker=lambda t: t["marker"].map(SHORTCUT_MARKERS.index)
    )
    return (table.sort_values(["dataset", "model", "_training", "_marker"], kind="stable")
            .drop(columns=["_training", "_marker"]).reset_index(drop=True))


def evaluate(
    model: nn.Module, spec: classifiers.ClassifierSpec, tests: Mapping[str, ImageSet], explain: Mapping[str, str],
    threshold: float, metrics: Mapping[str, object], device: torch.device,
) -> pd.DataFrame:
    """One model on each test set (marker → split): its predictions and, per image, where its map for the
    predicted class lies — EPG against box and mask, pointing game, and the hard-threshold ratio inside the
    object (:func:`camsweep.attention.hard_threshold_ratio`)."""
    method, layer = explain["method"], explain["layer"]
    settings = localisation.LocalisationSettings.from_config(metrics)
    frames = []
    for marker, split in tests.items():
        probs = inference.probabilities(model, spec, split.images, device=device)
        frame = predictions.predictions_frame(split.ids, split.labels, probs)
        layer_maps = cams.compute(
            model, classifiers.preprocess(split.images, spec), method, [layer], frame["prediction"].to_numpy()
        )[layer]
        upsampled = maps.upsample(layer_maps.numpy(), split.images.shape[1:3])
        scores = localisation.scores(upsampled, split.masks, split.boxes, settings)
        for name in ("energy_pg_box", "energy_pg_mask", "pointing_game_mask"):
            frame[name] = scores[name]
        frame["hard_ratio"] = attention.hard_threshold_ratio(layer_maps, torch.as_tensor(split.masks), threshold).numpy()
        frame.insert(0, "marker", marker)
        frames.append(frame)
        log.info("%s: accuracy %.4f, mean mask EPG %.4f", marker, frame["correct"].mean(), frame["energy_pg_mask"].mean())
    return pd.concat(frames, ignore_index=True)
