"""Explanation stability: how far a perturbed image's map moves from the clean image's map."""

from __future__ import annotations

import numpy as np

from camsweep import maps


def cam_rmse(clean: np.ndarray, perturbed: np.ndarray, scale: float = 255.0) -> np.ndarray:
    """Per-image RMSE between min-max normalised maps (N, h, w), on a 0–``scale`` range.

    The robustness study scaled each map to 0–255 at the layer's own resolution before comparing; maps are compared at
    layer resolution here too, without quantising to integers. A constant map normalises to zeros.
    """
    if clean.shape != perturbed.shape:
        raise ValueError(f"clean maps {clean.shape} and perturbed maps {perturbed.shape} differ in shape")
    difference = scale * (maps.normalise(clean) - maps.normalise(perturbed))
    return np.sqrt(np.mean(difference**2, axis=(-2, -1)))
