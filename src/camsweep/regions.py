"""Regions: boxes, masks, connected components and map binarisation.

Conventions used everywhere in camsweep:

* A box is ``(x_min, y_min, x_max, y_max)`` in **inclusive** pixel coordinates, so a single pixel at
  column 3, row 5 has box ``(3, 5, 3, 5)`` and area 1. An empty mask has no box; it is stored as
  ``(-1, -1, -1, -1)`` (:data:`NO_BOX`) and turns back into an empty mask.
* Connected components use 8-connectivity (OpenCV).
* Binarising works on maps already min-max normalised to [0, 1] (:func:`camsweep.maps.normalise`).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

NO_BOX = np.array([-1, -1, -1, -1], dtype=np.int32)
ThresholdRule = Literal["mean", "fixed", "fraction_of_max"]


def box_from_mask(mask: np.ndarray) -> np.ndarray:
    """Tight inclusive box of a 2-D boolean mask; :data:`NO_BOX` if the mask is empty."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return NO_BOX.copy()
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.int32)


def boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """Vectorised :func:`box_from_mask` over a stack ``(N, H, W)`` → ``(N, 4)`` int32."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
    rows_any = masks.any(axis=2)
    cols_any = masks.any(axis=1)
    nonempty = rows_any.any(axis=1)
    height, width = masks.shape[1:]
    y_min = rows_any.argmax(axis=1)
    y_max = height - 1 - rows_any[:, ::-1].argmax(axis=1)
    x_min = cols_any.argmax(axis=1)
    x_max = width - 1 - cols_any[:, ::-1].argmax(axis=1)
    boxes = np.stack([x_min, y_min, x_max, y_max], axis=1).astype(np.int32)
    boxes[~nonempty] = NO_BOX
    return boxes


def box_to_mask(box: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of ``shape`` (H, W) that is True inside the inclusive box."""
    mask = np.zeros(shape, dtype=bool)
    x_min, y_min, x_max, y_max = (int(v) for v in box)
    if x_min < 0:
        return mask
    mask[y_min : y_max + 1, x_min : x_max + 1] = True
    return mask


def boxes_to_masks(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Vectorised :func:`box_to_mask`: ``(N, 4)`` → ``(N, H, W)`` bool."""
    boxes = np.asarray(boxes)
    height, width = shape
    ys = np.arange(height)[None, :, None]
    xs = np.arange(width)[None, None, :]
    x_min, y_min, x_max, y_max = (boxes[:, i, None, None] for i in range(4))
    inside = (ys >= y_min) & (ys <= y_max) & (xs >= x_min) & (xs <= x_max)
    return inside & (x_min >= 0)


def threshold_value(normalised: np.ndarray, rule: ThresholdRule = "mean", value: float = 0.5) -> np.ndarray:
    """Per-map threshold for normalised maps ``(..., H, W)``.

    ``mean``: the map's mean (the box-vs-mask study's default); ``fixed``: ``value``; ``fraction_of_max``: ``value`` times
    the map's maximum (1 after normalisation, 0 for a constant map).
    """
    if rule == "mean":
        return normalised.mean(axis=(-2, -1), keepdims=True)
    if rule == "fixed":
        return np.full(normalised.shape[:-2] + (1, 1), float(value))
    if rule == "fraction_of_max":
        return float(value) * normalised.max(axis=(-2, -1), keepdims=True)
    raise ValueError(f"unknown threshold rule {rule!r}; valid: mean, fixed, fraction_of_max")


def binarise(normalised: np.ndarray, rule: ThresholdRule = "mean", value: float = 0.5) -> np.ndarray:
    """Pixels strictly above the threshold. A constant (all-zero) map gives an empty region."""
    return normalised > threshold_value(normalised, rule, value)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a 2-D mask (ties: the one OpenCV labels first)."""
    mask = np.asarray(mask, dtype=bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(mask)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == biggest
