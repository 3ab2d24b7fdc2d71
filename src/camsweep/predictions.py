"""The predictions frame: one row per image with its class probabilities (what `predict` writes and the
tables read). Torch-free, so aggregation jobs start without importing torch."""

from __future__ import annotations

import numpy as np
import pandas as pd


def probability_columns(n_classes: int) -> list[str]:
    return [f"prob_{k}" for k in range(n_classes)]


def predictions_frame(ids: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """One row per image: id, label, prediction, correct, prob_0 … prob_{K-1}."""
    frame = pd.DataFrame({"id": ids.astype(str), "label": labels.astype(np.int64)})
    frame["prediction"] = probs.argmax(axis=1).astype(np.int64)
    frame["correct"] = frame["prediction"] == frame["label"]
    for column, values in zip(probability_columns(probs.shape[1]), probs.T, strict=True):
        frame[column] = values.astype(np.float32)
    return frame


def probabilities_of(frame: pd.DataFrame) -> np.ndarray:
    columns = [c for c in frame.columns if c.startswith("prob_")]
    return frame[sorted(columns, key=lambda c: int(c.removeprefix("prob_")))].to_numpy(np.float64)
