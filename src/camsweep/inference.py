"""Class probabilities for a split, with the classifier's own preprocessing for every condition."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from camsweep.models.classifiers import ClassifierSpec, preprocess
from camsweep.models.prediction import softmax_batches

__all__ = ["probabilities", "softmax_batches"]


def probabilities(
    model: nn.Module, spec: ClassifierSpec, images: np.ndarray, batch_size: int = 256,
    device: torch.device = torch.device("cpu"),
) -> np.ndarray:
    """Softmax probabilities (N, K) float32 for uint8 images (N, H, W, 3); model in eval mode."""
    chunks = softmax_batches(model, images, lambda batch: preprocess(batch, spec), batch_size, device)
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, spec.num_classes), np.float32)
