"""Segmentation quality per image: Dice and IoU of a predicted mask against the ground-truth mask.

Both take boolean masks ``(..., H, W)`` and return one value per leading index. When prediction and
ground truth are both empty the segmentation is perfect: Dice = IoU = 1 (documented convention; the
ratio is 0/0 there).
"""

from __future__ import annotations

import numpy as np


def _counts(predicted: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    predicted, truth = np.asarray(predicted, dtype=bool), np.asarray(truth, dtype=bool)
    if predicted.shape != truth.shape or predicted.ndim < 2:
        raise ValueError(f"predicted and truth masks must share a shape (..., H, W), got {predicted.shape} and {truth.shape}")
    overlap = (predicted & truth).sum(axis=(-2, -1), dtype=np.int64)
    return overlap, predicted.sum(axis=(-2, -1), dtype=np.int64), truth.sum(axis=(-2, -1), dtype=np.int64)


def dice(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """2|P ∩ G| / (|P| + |G|); 1 when both are empty."""
    overlap, size_p, size_g = _counts(predicted, truth)
    total = size_p + size_g
    return np.where(total > 0, 2 * overlap / np.maximum(total, 1), 1.0)


def iou(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|P ∩ G| / |P ∪ G|; 1 when both are empty."""
    overlap, size_p, size_g = _counts(predicted, truth)
    union = size_p + size_g - overlap
    return np.where(union > 0, overlap / np.maximum(union, 1), 1.0)
