"""Every metric camsweep computes, under the stable name used in the config and in the output tables.

Each entry says what the metric needs, whether it is a per-image score (tables give its mean with a
bootstrap CI over images) or a dataset-level statistic (one value per condition, CI by resampling
images), and which direction is better. The functions live in the modules named by ``module``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["image", "dataset"]
Needs = Literal["ground_truth", "model", "clean_map"]


# The per-image faithfulness scores, in the order of their table columns.
FAITHFULNESS_COLUMNS = (
    "average_drop", "increase_in_confidence", "insertion_auc", "deletion_auc", "saliency_metric",
    "road_morf", "road_lerf", "road_gap",
)

@dataclass(frozen=True)
class Metric:
    name: str
    level: Level
    needs: Needs
    higher_is_better: bool
    module: str
    description: str


def _localisation(name: str, higher: bool, description: str) -> Metric:
    return Metric(name, "image", "ground_truth", higher, "camsweep.metrics.localisation", description)


_METRICS = [
    _localisation("iou_box", True, "IoU of the predicted box (largest component) with the GT box"),
    _localisation("iou_mask", True, "IoU of the predicted component with the GT mask"),
    _localisation("le_box", False, "localisation error 1 − IoU against the GT box"),
    _localisation("le_mask", False, "localisation error 1 − IoU against the GT mask (the box-vs-mask study's MLE)"),
    _localisation("pointing_game_box", True, "the map's maximum lies in the GT box"),
    _localisation("pointing_game_mask", True, "the map's maximum lies in the GT mask"),
    _localisation("energy_pg_box", True, "share of the map's energy inside the GT box (EPG)"),
    _localisation("energy_pg_mask", True, "share of the map's energy inside the GT mask (MEPG)"),
    _localisation("f1_box", True, "pixel F1 of the predicted box region against the GT box"),
    _localisation("f1_mask", True, "pixel F1 of the predicted component against the GT mask"),
    _localisation("soft_f_box", True, "soft F: precision = EPG, recall = mean saliency inside the GT box"),
    _localisation("soft_f_mask", True, "soft F against the GT mask"),
    _localisation("mae", False, "mean |S − G| against the GT mask"),
    _localisation("mae_box", False, "mean |S − G| against the GT box region"),
    _localisation("le_box_seed", False, "seed-compatible LE: 1 − recall, no largest-component step (the box-vs-mask study's Table 1)"),
    _localisation("le_mask_seed", False, "seed-compatible MLE: 1 − recall, no largest-component step"),
    _localisation("f1_box_seed", True, "seed-compatible 'F1' (the soft F against the GT box)"),
    _localisation("f1_mask_seed", True, "seed-compatible 'MF1' (the soft F against the GT mask)"),
    Metric("warping_error", "image", "ground_truth", False, "camsweep.metrics.topology",
           "share of pixels left wrong after warping the GT mask onto the predicted region (Jain et al. 2010)"),
    Metric("box_acc", "image", "ground_truth", True, "camsweep.metrics.wsol",
           "1 if a contour box of the map thresholded at τ has IoU ≥ δ with the GT box (mean: BoxAcc(τ, δ))"),
    Metric("max_box_acc_0.3", "dataset", "ground_truth", True, "camsweep.metrics.wsol", "MaxBoxAcc at δ = 0.3"),
    Metric("max_box_acc_0.5", "dataset", "ground_truth", True, "camsweep.metrics.wsol", "MaxBoxAcc at δ = 0.5"),
    Metric("max_box_acc_0.7", "dataset", "ground_truth", True, "camsweep.metrics.wsol", "MaxBoxAcc at δ = 0.7"),
    Metric("max_box_acc_v2", "dataset", "ground_truth", True, "camsweep.metrics.wsol",
           "mean over δ ∈ {0.3, 0.5, 0.7} of the best BoxAcc over τ (Choe et al. 2020)"),
    Metric("pxap", "dataset", "ground_truth", True, "camsweep.metrics.wsol",
           "pixel average precision of the maps against the GT masks over the τ grid (Choe et al. 2020)"),
    Metric("average_drop", "image", "model", False, "camsweep.metrics.faithfulness",
           "max(0, p_c − o_c)/p_c, o_c = probability on image × map (Chattopadhay et al. 2018)"),
    Metric("increase_in_confidence", "image", "model", True, "camsweep.metrics.faithfulness",
           "1 if o_c > p_c (its mean is the share of images)"),
    Metric("insertion_auc", "image", "model", True, "camsweep.metrics.faithfulness",
           "area under p_c as the most salient pixels are put back on a canvas (Petsiuk et al. 2018)"),
    Metric("deletion_auc", "image", "model", False, "camsweep.metrics.faithfulness",
           "area under p_c as the most salient pixels are replaced by a canvas"),
    Metric("saliency_metric", "image", "model", False, "camsweep.metrics.faithfulness",
           "log(max(0.05, box area share)) − log p_c(box crop) (Dabkowski & Gal 2017)"),
    Metric("road_morf", "image", "model", False, "camsweep.metrics.road",
           "mean p_c over the percentages with the most relevant pixels removed by noisy linear imputation (ROAD)"),
    Metric("road_lerf", "image", "model", True, "camsweep.metrics.road",
           "mean p_c over the percentages with the least relevant pixels removed by noisy linear imputation (ROAD)"),
    Metric("road_gap", "image", "model", True, "camsweep.metrics.road",
           "road_lerf − road_morf (Rong et al. 2022; pytorch-grad-cam's ROADCombined is half of it)"),
    Metric("cam_rmse", "image", "clean_map", False, "camsweep.metrics.stability",
           "RMSE between the map and the clean image's map on a 0–255 scale (perturbation robustness)"),
]

_BY_NAME = {metric.name: metric for metric in _METRICS}
assert len(_BY_NAME) == len(_METRICS), "metric names must be unique"


def get(name: str) -> Metric:
    """The metric called ``name``; an unknown name raises with the valid ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; valid: {', '.join(_BY_NAME)}") from None


def names(level: Level | None = None, needs: Needs | None = None) -> list[str]:
    """Registered names, optionally filtered by level and by what they need, in registration order."""
    return [m.name for m in _METRICS if (level is None or m.level == level) and (needs is None or m.needs == needs)]
