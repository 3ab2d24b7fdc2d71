"""Saliency maps: normalisation and the one upsampling convention camsweep uses.

Maps are stored at layer resolution. Where a metric needs image resolution they are upsampled with
bilinear interpolation on half-pixel centres (OpenCV ``INTER_LINEAR``, which equals torch's
``interpolate(..., mode="bilinear", align_corners=False)`` when enlarging) and only then normalised.
"""

from __future__ import annotations

import cv2
import numpy as np


def normalise(saliency: np.ndarray) -> np.ndarray:
    """Min-max normalise each map of a stack ``(..., H, W)`` to [0, 1] in float64.

    A constant map becomes all zeros (it carries no localisation information). NaN anywhere raises
    ``ValueError``: a map with NaN is a bug upstream, and scoring it would hide that.
    """
    saliency = np.asarray(saliency, dtype=np.float64)
    if np.isnan(saliency).any():
        raise ValueError("saliency map contains NaN")
    low = saliency.min(axis=(-2, -1), keepdims=True)
    span = saliency.max(axis=(-2, -1), keepdims=True) - low
    safe_span = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (saliency - low) / safe_span, 0.0)


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear (half-pixel centres) resize of maps (N, h, w) to (N, H, W), float32."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, h, w), got shape {maps.shape}")
    height, width = size
    if maps.shape[1:] == (height, width):
        return maps.copy()
    out = np.empty((len(maps), height, width), np.float32)
    for i, single in enumerate(maps):
        out[i] = cv2.resize(single, (width, height), interpolation=cv2.INTER_LINEAR)
    return out
