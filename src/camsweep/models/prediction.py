"""Batched softmax outputs of a model, shared by classifiers (camsweep.inference) and segmenters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


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
