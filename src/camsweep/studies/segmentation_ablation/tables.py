"""The segmentation-ablation tables, as means with image-bootstrap CIs: each segmenter's test Dice and
IoU, its maps' localisation scores per method and layer, and the occlusion curves."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from camsweep import scoring, stats, tables
from camsweep.perturb import CLEAN
from camsweep.studies.segmentation_ablation import occlusion

Keyed = Sequence[tuple[dict[str, str], pd.DataFrame]]


def segmenter_table(test_scores: Keyed, settings: stats.BootstrapSettings, seed: int) -> pd.DataFrame:
    """Per segmenter (keys: ``segmenter``): mean test Dice and IoU."""
    frame = pd.concat([scores.assign(segmenter=keys["segmenter"]) for keys, scores in test_scores], ignore_index=True)
    return tables.grouped_mean_table(frame, ["segmenter"], ("dice", "iou"), settings, seed, "segmenters")


def segmentation_cam_table(cam_scores: Keyed, settings: stats.BootstrapSettings, seed: int) -> pd.DataFrame:
    """Per (segmenter, method, layer, metric) (keys: ``segmenter``, ``method``): the maps' ground-truth
    scores on the clean test images, in the layout of the classifiers' CAM table."""
    conditions = [
        tables.Condition({"dataset": keys["segmenter"], "model": keys["segmenter"], "method": keys["method"],
                          "perturbation": CLEAN[0], "severity": CLEAN[1]}, scores)
        for keys, scores in cam_scores
    ]
    table = tables.cam_metric_table(conditions, settings, seed, columns=scoring.GROUND_TRUTH_COLUMNS)
    return table.drop(columns=["dataset", "perturbation", "severity"]).rename(columns={"model": "segmenter"})


def occlusion_table(occluded: Keyed, settings: stats.BootstrapSettings, seed: int) -> pd.DataFrame:
    """Per (segmenter, occluded region, fraction) (keys: ``segmenter``): the occlusion metrics."""
    frame = pd.concat([rows.assign(segmenter=keys["segmenter"]) for keys, rows in occluded], ignore_index=True)
    keys = ["segmenter", "occluded", "fraction"]
    return tables.grouped_mean_table(frame, keys, occlusion.METRICS, settings, seed, "occlusion")
