"""Per-image scores of one condition's maps: localisation against GT and stability against clean maps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from camsweep import maps as saliency_maps
from camsweep.data.imageset import ImageSet
from camsweep.metrics import localisation, stability


def score_maps(
    cams: dict[str, np.ndarray],
    clean_cams: dict[str, np.ndarray],
    split: ImageSet,
    settings: localisation.LocalisationSettings,
    stability_scale: float = 255.0,
    targets: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per (image, layer): id, label, target (the explained class, if given), layer, every
    localisation metric, cam_rmse.

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
        else:
            for name in localisation.METRIC_NAMES:
                frame[name] = np.nan
        frame["cam_rmse"] = stability.cam_rmse(clean_cams[layer], layer_maps, stability_scale)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
