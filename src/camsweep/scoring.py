"""Per-image scores of one condition's maps: localisation against GT and stability against clean maps."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from camsweep import io, maps as saliency_maps
from camsweep.data.imageset import ImageSet, check_ids
from camsweep.metrics import localisation, stability, topology, wsol
from camsweep.perturb import CLEAN

log = logging.getLogger(__name__)

# Per-image columns that need a ground-truth mask and box (NaN without them).
GROUND_TRUTH_COLUMNS = (*localisation.METRIC_NAMES, *localisation.SEED_METRIC_NAMES, "warping_error")
SCORE_COLUMNS = (*GROUND_TRUTH_COLUMNS, "cam_rmse")


def score_maps(
    cams: dict[str, np.ndarray],
    clean_cams: dict[str, np.ndarray],
    split: ImageSet,
    settings: localisation.LocalisationSettings,
    stability_scale: float = 255.0,
    targets: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per (image, layer): id, label, target (the explained class, if given), layer, every
    localisation metric (corrected and seed-compatible), the warping error, cam_rmse.

    Maps are scored for localisation at image resolution (upsampled, see :mod:`camsweep.maps`) and
    compared with the clean maps at layer resolution. Without GT masks, localisation columns are NaN.
    """
    frames = []
    height, width = split.images.shape[1:3]
    for layer, layer_maps in cams.items():
        if layer not in clean_cams:
            raise ValueError(f"clean maps lack layer {layer!r}")
        if len(layer_maps) != len(split):
            raise ValueError(f"layer {layer!r} has {len(layer_maps)} maps for {len(split)} images")
        frame = pd.DataFrame({"id": split.ids.astype(str), "label": split.labels})
        if targets is not None:
            frame["target"] = np.asarray(targets, dtype=np.int64)
        frame["layer"] = layer
        if split.has_masks:
            upsampled = saliency_maps.upsample(layer_maps, (height, width))
            for name, values in localisation.scores(upsampled, split.masks, split.boxes, settings).items():
                frame[name] = values
            for name, values in localisation.seed_compatible_scores(upsampled, split.masks, split.boxes, settings).items():
                frame[name] = values
            frame["warping_error"] = topology.warping_scores_from_maps(upsampled, split.masks, settings)["warping_error"]
        else:
            for name in GROUND_TRUTH_COLUMNS:
                frame[name] = np.nan
        frame["cam_rmse"] = stability.cam_rmse(clean_cams[layer], layer_maps, stability_scale)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def wsol_evidence(cams: dict[str, np.ndarray], split: ImageSet) -> dict[str, np.ndarray]:
    """Per image and layer, what the dataset-level WSOL metrics are made of, so aggregation can resample
    images: ``best_iou:<layer>`` (N, T) for MaxBoxAccV2 and ``pixel_counts:<layer>`` (N, 2, L) for PxAP
    (see :mod:`camsweep.metrics.wsol`). Empty without GT masks."""
    if not split.has_masks:
        return {}
    height, width = split.images.shape[1:3]
    evidence = {}
    for layer, layer_maps in cams.items():
        upsampled = saliency_maps.upsample(layer_maps, (height, width))
        evidence[f"best_iou:{layer}"] = wsol.best_box_iou(upsampled, split.boxes).astype(np.float32)
        evidence[f"pixel_counts:{layer}"] = wsol.pixel_counts(upsampled, split.masks).astype(np.int32)
    return evidence


@dataclass(frozen=True)
class ConditionScores:
    """One condition's scores: the per-image :func:`score_maps` frame and the :func:`wsol_evidence`."""

    frame: pd.DataFrame
    evidence: dict[str, np.ndarray]
    layers: list[str]


def score_conditions(
    map_paths: Sequence[str | os.PathLike],
    conditions: Sequence[tuple[str, int]],
    split: ImageSet,
    options: Mapping[str, Any],
) -> Iterator[ConditionScores]:
    """The scores of one method's maps (archives written by the CAM stage, one per condition, in the order
    of ``conditions``) on ``split``'s images, condition by condition; the clean maps (condition ("none",
    0)) are the stability reference. ``options`` is the config's ``metrics`` section."""
    conditions = [tuple(condition) for condition in conditions]
    clean_path = map_paths[conditions.index(CLEAN)]
    clean, _ = io.load_npz(clean_path)
    check_ids(clean["ids"], split, clean_path)
    settings = localisation.LocalisationSettings.from_config(options)
    for (name, severity), maps_path in zip(conditions, map_paths, strict=True):
        maps, meta = io.load_npz(maps_path)
        check_ids(maps["ids"], split, maps_path)
        layers = meta["layers"]
        frame = score_maps(
            {layer: maps[layer] for layer in layers}, {layer: clean[layer] for layer in layers}, split, settings,
            options["stability_scale"], targets=maps["targets"],
        )
        undefined = int(frame["iou_mask"].isna().sum())
        if undefined:
            log.warning("%s %s: %d (image, layer) rows have no ground-truth region: localisation metrics are NaN",
                        name, severity, undefined)
        yield ConditionScores(frame, wsol_evidence({layer: maps[layer] for layer in layers}, split), layers)
