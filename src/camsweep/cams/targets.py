"""Which class a map explains, per image."""

from __future__ import annotations

import numpy as np

TARGET_MODES = ("predicted", "clean_predicted", "label")


def class_targets(
    mode: str, labels: np.ndarray, predicted: np.ndarray, clean_predicted: np.ndarray | None = None
) -> np.ndarray:
    """Class per image: the prediction on the image itself (``predicted``), on its clean version
    (``clean_predicted``, so every condition explains the same decision), or the true ``label``."""
    if mode == "predicted":
        return np.asarray(predicted, dtype=np.int64)
    if mode == "clean_predicted":
        if clean_predicted is None:
            raise ValueError("target mode 'clean_predicted' needs the clean predictions")
        return np.asarray(clean_predicted, dtype=np.int64)
    if mode == "label":
        return np.asarray(labels, dtype=np.int64)
    raise ValueError(f"unknown CAM target mode {mode!r}; valid: {', '.join(TARGET_MODES)}")
