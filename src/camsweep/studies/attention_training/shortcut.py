"""The shortcut demonstration: the training images carry a class-coloured marker outside the object; a
cross-entropy and an attention-trained model (per training seed) are tested with the marker as in training,
absent, and shuffled to another class (:func:`evaluate`), and summarised per training and test marker: per
seed (:func:`shortcut_seed_table`) and over seeds (:func:`shortcut_table`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
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
SHORTCUT_METRICS = (*tables.REPORT_METRICS, *SHORTCUT_MAP_COLUMNS)
KEYS = ["dataset", "model", "training", "marker"]


def _study_order(table: pd.DataFrame, *last: str) -> pd.DataFrame:
    # The order the study reads: cross-entropy first; the marker as trained, then the tests that break it.
    table = table.assign(
        _training=lambda t: t["training"].map(SHORTCUT_TRAININGS.index), _marker=lambda t: t["marker"].map(SHORTCUT_MARKERS.index)
    )
    return (table.sort_values(["dataset", "model", "_training", "_marker", *last], kind="stable")
            .drop(columns=["_training", "_marker"]).reset_index(drop=True))


def shortcut_seed_table(frame: pd.DataFrame, settings: stats.BootstrapSettings, seed: int) -> pd.DataFrame:
    """Per (dataset, model, training, marker, seed_index): the classification report and the mean map
    scores of :data:`SHORTCUT_MAP_COLUMNS`, each with an image-bootstrap CI; ``seed`` is the index's
    training seed. ``frame``: the evaluations' rows with those keys as columns."""
    rows = []
    for group_keys, group in frame.groupby([*KEYS, "seed_index", "seed"], sort=True):
        # Generators keyed without the seed: the seeds share the test images, so they share the resamples,
        # and seed index 0 keeps the numbers of the one-seed table.
        keys = group_keys[: len(KEYS)]
        row = {**dict(zip([*KEYS, "seed_index", "seed"], group_keys, strict=True)),
               **tables.report_columns(group, settings, seed, keys)}
        for metric in SHORTCUT_MAP_COLUMNS:
            mean, low, high, _ = stats.mean_ci(group[metric].to_numpy(float), settings,
                                               seeding.rng(seed, "shortcut", *keys, metric))
            row |= {metric: mean, f"{metric}_low": low, f"{metric}_high": high}
        rows.append(row)
    return _study_order(pd.DataFrame(rows), "seed_index")


def shortcut_table(per_seed: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per (dataset, model, training, marker), from :func:`shortcut_seed_table`'s rows: with one seed, its row
    and image-bootstrap CIs (``ci_over`` = ``images``); with several, the mean over seeds of each metric with
    a t-interval over the per-seed values at ``confidence`` (:func:`camsweep.stats.t_interval`; ``ci_over`` =
    ``seeds``): training variability, not the test images'. ``seeds`` counts the seeds; ``n`` is the test
    images per seed."""
    rows = []
    for group_keys, group in per_seed.groupby(KEYS, sort=True):
        row = {**dict(zip(KEYS, group_keys, strict=True)), "seeds": len(group)}
        if len(group) == 1:
            rows.append(row | {"ci_over": "images"} | group.drop(columns=[*KEYS, "seed_index", "seed"]).to_dict("records")[0])
            continue
        row |= {"ci_over": "seeds", "n": int(group["n"].iloc[0])}  # the seeds share the test images
        for metric in SHORTCUT_METRICS:
            mean, low, high, _ = stats.t_interval(group[metric].to_numpy(float), confidence)
            row |= {metric: mean, f"{metric}_low": low, f"{metric}_high": high}
        rows.append(row)
    return _study_order(pd.DataFrame(rows))


def evaluate(
    model: nn.Module, spec: classifiers.ClassifierSpec, tests: Mapping[str, ImageSet], explain: Mapping[str, str],
    threshold: float, metrics: Mapping[str, object], device: torch.device,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One model on each test set (marker → split): its predictions and, per image, where its map for the
    predicted class lies — EPG against box and mask, pointing game, and the hard-threshold ratio inside the
    object (:func:`camsweep.attention.hard_threshold_ratio`); and the maps themselves at the layer's
    resolution, (N, h, w) per marker."""
    method, layer = explain["method"], explain["layer"]
    settings = localisation.LocalisationSettings.from_config(metrics)
    frames, layer_maps_by_marker = [], {}
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
        layer_maps_by_marker[marker] = layer_maps.numpy().astype(np.float32)
        log.info("%s: accuracy %.4f, mean mask EPG %.4f", marker, frame["correct"].mean(), frame["energy_pg_mask"].mean())
    return pd.concat(frames, ignore_index=True), layer_maps_by_marker
