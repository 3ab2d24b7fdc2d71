"""Class probabilities for a split, with the classifier's own preprocessing for every condition."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from camsweep.models.classifiers import ClassifierSpec, preprocess


@torch.inference_mode()
def softmax_batches(
    model: nn.Module, images: np.ndarray, to_input: Callable[[np.ndarray], torch.Tensor], batch_size: int,
    device: torch.device,
) -> list[torch.Tensor]:
    """Softmax over the channel axis (dim 1) of ``model``'s float32 outputs, batch by batch, on the CPU;
    ``to_input`` turns uint8 images into the model's input. The model is put in eval mode."""
    model.eval()
    return [
        torch.softmax(model(to_input(images[start : start + batch_size]).to(device)).float(), dim=1).cpu()
        for start in range(0, len(images), batch_size)
    ]


def probabilities(
    model: nn.Module, spec: ClassifierSpec, images: np.ndarray, batch_size: int = 256,
    device: torch.device = torch.device("cpu"),
) -> np.ndarray:
    """Softmax probabilities (N, K) float32 for uint8 images (N, H, W, 3); model in eval mode."""
    chunks = softmax_batches(model, images, lambda batch: preprocess(batch, spec), batch_size, device)
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, spec.num_classes), np.float32)
