"""Models: classifier construction, preprocessing, checkpoints and training."""

from __future__ import annotations

import itertools

import torch
from torch import nn


def module_device(model: nn.Module) -> torch.device:
    """Where ``model``'s first parameter (or buffer) lives; CPU for a module with neither."""
    return next(itertools.chain(model.parameters(), model.buffers()), torch.empty(0)).device
