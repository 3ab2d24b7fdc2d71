"""Localisation of saliency maps against a ground-truth box and mask (the box-vs-mask study).

Inputs are maps at image resolution (see :func:`camsweep.maps.upsample`), ground-truth
masks and inclusive boxes. Conventions:

* Each map is min-max normalised to S ∈ [0, 1]. A **constant map** (all-zero included) becomes all
  zeros: it has no peak, no energy and an empty thresholded region, so it scores as a complete
  localisation failure (IoU 0, pointing game 0, EPG 0, F1 0, soft F 0) — never as a hit.
* Binarisation: S > threshold (the map's mean by default, see :mod:`camsweep.regions`), then the largest
  8-connected component (optional). The predicted box is that component's tight inclusive box.
* Box metrics compare against the GT box region (the pixels inside the GT box); mask metrics against
  the GT mask. The predicted region is the predicted box for box metrics and the component for mask metrics.
* An **empty ground-truth region** makes every localisation metric undefined: NaN (the score stage
  counts and logs such images).
* Pointing game: the first maximum in row-major order is the map's point; a hit if it lies in the GT
  region dilated by ``pointing_tolerance`` pixels (Euclidean).

**Seed-compatible box-vs-mask metrics** (:func:`seed_compatible_scores`, columns ``*_seed``): the box-vs-mask study's original
code computed its "IoU" with an operator-precedence bug that made it the recall |P ∩ G| / |G|, skipped
the largest-component step (P = every pixel above the threshold, and its tight box), and reported the
soft pixel F as "F1". These columns regenerate its Table 1 the way it was made: LE_seed = 1 − recall,
F1_seed = soft F. They sit next to the corrected metrics, never instead of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from camsweep import maps as saliency_maps, regions

METRIC_NAMES = (
    "iou_box", "iou_mask", "le_box", "le_mask", "pointing_game_box", "pointing_game_mask",
    "energy_pg_box", "energy_pg_mask", "f1_box", "f1_mask", "soft_f_box", "soft_f_mask", "mae", "mae_box",
)
# The box-vs-mask study's original code, reproduced on request (see seed_compatible_scores); corrected metrics stay the default.
SEED_METRIC_NAMES = ("le_box_seed", "le_mask_seed", "f1_box_seed", "f1_mask_seed")


@dataclass(frozen=True)
class LocalisationSettings:
    threshold: regions.ThresholdRule = "mean"
    threshold_value: float = 0.5  # used by the "fixed" and "fraction_of_max" rules
    largest_component: bool = True
    pointing_tolerance: int = 0  # pixels

    @classmethod
    def from_config(cls, metrics: dict) -> LocalisationSettings:
        """From the config's ``metrics`` section (which has further keys, e.g. the stability scale)."""
        return cls(**{field: metrics[field] for field in cls.__dataclass_fields__})


def _ratio(numerator: np.ndarray, denominator: np.ndarray, when_zero: float) -> np.ndarray:
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    out = np.full(np.broadcast(numerator, denominator).shape, when_zero, dtype=float)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def iou(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Intersection over union of boolean regions (..., H, W); NaN when both are empty."""
    intersection = (predicted & truth).sum(axis=(-2, -1))
    union = (predicted | truth).sum(axis=(-2, -1))
    return _ratio(intersection, union, np.nan)


def f1(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Pixel F1 (Dice) of boolean regions; NaN when both are empty (then equal to 2·IoU/(1 + IoU))."""
    intersection = (predicted & truth).sum(axis=(-2, -1))
    total = predicted.sum(axis=(-2, -1)) + truth.sum(axis=(-2, -1))
    return _ratio(2 * intersection, total, np.nan)


def pointing_game(normalised: np.ndarray, truth: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """1.0 if the map's maximum lies in ``truth`` (dilated by ``tolerance`` px), else 0.0 (per map).

    A constant map (no peak) is a miss.
    """
    n, height, width = normalised.shape
    flat = normalised.reshape(n, -1)
    peak = flat.argmax(axis=1)
    region = truth
    if tolerance > 0:
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
        region = np.stack([cv2.dilate(t.astype(np.uint8), disk).astype(bool) for t in truth])
    hit = region.reshape(n, -1)[np.arange(n), peak].astype(float)
    has_peak = flat.max(axis=1) > flat.min(axis=1)
    return np.where(has_peak, hit, 0.0)


def energy_pointing_game(normalised: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Share of the map's energy inside ``truth``: Σ_{p∈G} S_p / Σ_p S_p; 0 for a map with no energy."""
    inside = (normalised * truth).sum(axis=(-2, -1))
    return _ratio(inside, normalised.sum(axis=(-2, -1)), 0.0)


def soft_f(normalised: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Soft pixel F: harmonic mean of precision = EPG and recall = mean saliency over the GT region."""
    precision = energy_pointing_game(normalised, truth)
    recall = _ratio((normalised * truth).sum(axis=(-2, -1)), truth.sum(axis=(-2, -1)), np.nan)
    return _ratio(2 * precision * recall, precision + recall, 0.0)


def mae(normalised: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Mean absolute error |S − G| over all pixels (S in [0, 1], G binary)."""
    return np.abs(normalised - truth).mean(axis=(-2, -1))


def predicted_regions(normalised: np.ndarray, settings: LocalisationSettings) -> tuple[np.ndarray, np.ndarray]:
    """(component masks, boxes) of the thresholded maps (N, H, W) → ((N, H, W) bool, (N, 4))."""
    binary = regions.binarise(normalised, settings.threshold, settings.threshold_value)
    if settings.largest_component:
        binary = np.stack([regions.largest_component(b) for b in binary]) if len(binary) else binary
    return binary, regions.boxes_from_masks(binary)


def recall(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|P ∩ G| / |G| of boolean regions; NaN for an empty G."""
    return _ratio((predicted & truth).sum(axis=(-2, -1)), truth.sum(axis=(-2, -1)), np.nan)


def seed_compatible_scores(
    maps: np.ndarray, masks: np.ndarray, boxes: np.ndarray, settings: LocalisationSettings = LocalisationSettings()
) -> dict[str, np.ndarray]:
    """The box-vs-mask study's original LE, MLE, F1 and MF1 (see the module docstring); NaN where the GT region is empty."""
    normalised = saliency_maps.normalise(maps)
    shape = maps.shape[1:]
    box_regions = regions.boxes_to_masks(boxes, shape)
    above = regions.binarise(normalised, settings.threshold, settings.threshold_value)  # no component step
    above_box = regions.boxes_to_masks(regions.boxes_from_masks(above), shape)
    return {
        "le_box_seed": 1.0 - recall(above_box, box_regions),
        "le_mask_seed": 1.0 - recall(above, masks),
        "f1_box_seed": np.where(box_regions.any(axis=(-2, -1)), soft_f(normalised, box_regions), np.nan),
        "f1_mask_seed": np.where(masks.any(axis=(-2, -1)), soft_f(normalised, masks), np.nan),
    }


def scores(
    maps: np.ndarray, masks: np.ndarray, boxes: np.ndarray, settings: LocalisationSettings = LocalisationSettings()
) -> dict[str, np.ndarray]:
    """Every metric of :data:`METRIC_NAMES` for maps (N, H, W) against masks (N, H, W) and boxes (N, 4)."""
    if maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} must have the same shape")
    if boxes.shape != (len(maps), 4):
        raise ValueError(f"boxes must be ({len(maps)}, 4), got {boxes.shape}")
    normalised = saliency_maps.normalise(maps)
    shape = maps.shape[1:]
    box_regions = regions.boxes_to_masks(boxes, shape)
    component, predicted_boxes = predicted_regions(normalised, settings)
    predicted_box_regions = regions.boxes_to_masks(predicted_boxes, shape)

    result = {
        "iou_box": iou(predicted_box_regions, box_regions),
        "iou_mask": iou(component, masks),
        "pointing_game_box": pointing_game(normalised, box_regions, settings.pointing_tolerance),
        "pointing_game_mask": pointing_game(normalised, masks, settings.pointing_tolerance),
        "energy_pg_box": energy_pointing_game(normalised, box_regions),
        "energy_pg_mask": energy_pointing_game(normalised, masks),
        "f1_box": f1(predicted_box_regions, box_regions),
        "f1_mask": f1(component, masks),
        "soft_f_box": soft_f(normalised, box_regions),
        "soft_f_mask": soft_f(normalised, masks),
        "mae": mae(normalised, masks),
        "mae_box": mae(normalised, box_regions),
    }
    result["le_box"] = 1.0 - result["iou_box"]
    result["le_mask"] = 1.0 - result["iou_mask"]
    # Undefined without a ground-truth region, whatever the map.
    for kind, truth in (("box", box_regions), ("mask", masks)):
        empty = ~truth.any(axis=(-2, -1))
        for name in result:
            if name.endswith(f"_{kind}") or (kind == "mask" and name == "mae"):
                result[name] = np.where(empty, np.nan, result[name])
    return {name: result[name] for name in METRIC_NAMES}
