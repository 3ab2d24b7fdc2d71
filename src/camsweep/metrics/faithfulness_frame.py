"""The per-image faithfulness table of one method's maps: every metric of :mod:`camsweep.metrics.faithfulness`
and ROAD (:mod:`camsweep.metrics.road`), which builds on that module's checks and batching, per image and layer."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from camsweep import maps as saliency_maps
from camsweep.metrics import localisation, road
from camsweep.metrics.faithfulness import confidence_change, deletion, insertion, saliency_metric
from camsweep.metrics.localisation import LocalisationSettings
from camsweep.metrics.registry import FAITHFULNESS_COLUMNS
from camsweep.models import classifiers, module_device
from camsweep.models.classifiers import ClassifierSpec

log = logging.getLogger(__name__)


def per_image_scores(
    model: torch.nn.Module,
    spec: ClassifierSpec,
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    ids: np.ndarray,
    layers: Sequence[str],
    options: Mapping[str, Any],
    settings: LocalisationSettings,
    *,
    seed: int,
) -> pd.DataFrame:
    """Every metric of :mod:`~camsweep.metrics.faithfulness` and ROAD (:mod:`~camsweep.metrics.road`) for each image and layer of one method's
    maps: columns id, layer, target and ``FAITHFULNESS_COLUMNS``, layer by layer.

    ``images`` are the uint8 images the maps explain, ``maps`` holds each layer's maps at layer resolution
    and their ``targets``; ``options`` is the config's ``faithfulness`` section (steps, batch_size, the
    insertion and deletion canvases and ROAD's percentages and noise; ``seed`` and the ids key ROAD's
    noise). The model sees the perturbed pixels through the second step of its own preprocessing
    (:func:`camsweep.models.classifiers.normalise`); the saliency metric's boxes come from the thresholded
    maps (``settings``).
    """
    model.eval()
    device = module_device(model)
    pixels = classifiers.unit_range(images)

    def probabilities(derived: Tensor) -> Tensor:  # pixels in [0, 1], as the metrics perturb them
        return torch.softmax(model(classifiers.normalise(derived, spec).to(device)).float(), dim=1).cpu()

    targets = torch.as_tensor(maps["targets"])
    batch_size = options["batch_size"]
    curves = {"steps": options["steps"], "batch_size": batch_size}
    frames = []
    with torch.inference_mode():
        for layer in layers:
            upsampled = saliency_maps.upsample(maps[layer], tuple(pixels.shape[2:]))
            change = confidence_change(probabilities, pixels, upsampled, targets, batch_size=batch_size)
            inserted = insertion(probabilities, pixels, upsampled, targets, canvas=options["insertion_canvas"], **curves)
            deleted = deletion(probabilities, pixels, upsampled, targets, canvas=options["deletion_canvas"], **curves)
            _, boxes = localisation.predicted_regions(saliency_maps.normalise(upsampled), settings)
            saliency = saliency_metric(probabilities, pixels, boxes, targets, batch_size=batch_size)
            road_curves = road.road(probabilities, pixels, upsampled, targets, **options["road"], seed=seed, ids=ids,
                                    batch_size=batch_size)
            frames.append(pd.DataFrame({
                "id": ids.astype(str), "layer": layer, "target": targets.numpy(),
                "average_drop": change.drop, "increase_in_confidence": change.increase,
                "insertion_auc": inserted.auc, "deletion_auc": deleted.auc, "saliency_metric": saliency.score,
                "road_morf": road_curves.morf, "road_lerf": road_curves.lerf, "road_gap": road_curves.gap,
            }))
            log.info("%s: average drop %.3f, insertion %.3f, deletion %.3f, ROAD MoRF %.3f, LeRF %.3f", layer,
                     change.drop.mean(), inserted.auc.mean(), deleted.auc.mean(), road_curves.morf.mean(),
                     road_curves.lerf.mean())
    columns = ["id", "layer", "target", *FAITHFULNESS_COLUMNS]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return frame[columns]
