"""Regions from a segmenter's predicted masks, for a whole batch at once.

For each predicted foreground mask (N, H, W):

* ``masks``: its largest 8-connected component (OpenCV; ties go to the lowest label, as in
  :func:`camsweep.regions.largest_component`);
* ``boxes``: the inclusive tight box of that component;
* ``union_boxes``: the box around all predicted contours, i.e. the tight box of the whole predicted mask
  (the attention study's "union of all contours" box);
* ``empty``: whether the prediction was empty. **An empty prediction falls back to the whole image**
  (mask all True, both boxes ``(0, 0, W-1, H-1)``), with a logged warning naming how many images and
  the first few ids, so that downstream steps always have a region to work with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from camsweep import regions

logger = logging.getLogger(__name__)

REGION_SHAPES = ("mask", "box", "union_box")
_WARN_IDS = 5  # how many ids of empty predictions the warning names


@dataclass(frozen=True)
class PredictedRegions:
    masks: np.ndarray  # (N, H, W) bool: largest component (whole image where empty)
    boxes: np.ndarray  # (N, 4) int32: tight inclusive box of that component
    union_boxes: np.ndarray  # (N, 4) int32: tight box of the whole predicted mask
    empty: np.ndarray  # (N,) bool: the prediction was empty (fallback to the whole image)


def _largest_components(masks: np.ndarray) -> np.ndarray:
    """:func:`camsweep.regions.largest_component` of each mask (N, H, W).

    One OpenCV call per image: labelling all images at once (stacked with blank rows between them)
    gives the same components but measured no faster (≈0.15 s for 2400 masks of 56×56 either way).
    """
    largest = np.zeros_like(masks)
    for index in np.flatnonzero(masks.any(axis=(1, 2))):
        largest[index] = regions.largest_component(masks[index])
    return largest


def regions_from_masks(masks: np.ndarray, ids: np.ndarray | None = None) -> PredictedRegions:
    """Largest component, its box, the union box and emptiness of each predicted mask (N, H, W)."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise ValueError(f"predicted masks must be (N, H, W), got shape {masks.shape}")
    n, height, width = masks.shape
    if ids is not None and len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} predicted masks")
    empty = ~masks.any(axis=(1, 2))
    largest = _largest_components(masks)
    boxes = regions.boxes_from_masks(largest)
    union_boxes = regions.boxes_from_masks(masks)
    if empty.any():
        whole = np.array([0, 0, width - 1, height - 1], dtype=np.int32)
        largest[empty] = True
        boxes[empty] = whole
        union_boxes[empty] = whole
        where = np.flatnonzero(empty)
        names = [str(ids[i]) for i in where[:_WARN_IDS]] if ids is not None else [f"#{i}" for i in where[:_WARN_IDS]]
        more = f" and {where.size - _WARN_IDS} more" if where.size > _WARN_IDS else ""
        logger.warning(
            "%d of %d predicted masks are empty; using the whole image as their region (%s%s)",
            where.size, n, ", ".join(names), more,
        )
    return PredictedRegions(masks=largest, boxes=boxes, union_boxes=union_boxes, empty=empty)


def region_masks(predicted: PredictedRegions, shape: str) -> np.ndarray:
    """The regions (N, H, W) bool as ``shape``: ``mask`` (largest component), ``box`` (its box) or
    ``union_box`` (the box around every predicted contour)."""
    size = predicted.masks.shape[1:]
    if shape == "mask":
        return predicted.masks
    if shape == "box":
        return regions.boxes_to_masks(predicted.boxes, size)
    if shape == "union_box":
        return regions.boxes_to_masks(predicted.union_boxes, size)
    raise ValueError(f"unknown region shape {shape!r}; valid: {', '.join(REGION_SHAPES)}")
