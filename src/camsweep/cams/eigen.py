"""Eigen-CAM (Muhammad & Yeasin 2020): the projection of the layer's activations on their first principal
component, class-agnostic and gradient-free.

Per image, the (h·w) × K matrix of activations is centred per channel and projected on its first right
singular vector. The sign of a singular vector is arbitrary (it depends on the LAPACK build), so camsweep
fixes it: the projection's largest-magnitude value is positive (the sign correction of Seg-Eigen-CAM, also
in pytorch-grad-cam's ``get_2d_projection_with_sign_correction``); plain ``EigenCAM`` there leaves it
arbitrary. The final ReLU is applied like every other method.
"""

from __future__ import annotations

import torch


def projection(activations: torch.Tensor) -> torch.Tensor:
    """(N, K, h, w) → the sign-corrected first-component projection (N, h, w), before the ReLU."""
    count, channels, height, width = activations.shape
    matrix = activations.double().reshape(count, channels, -1).transpose(1, 2)  # (N, hw, K)
    centred = matrix - matrix.mean(dim=1, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    projected = (centred @ vh[:, 0, :, None])[..., 0]  # (N, hw)
    flip = projected.amin(dim=1).abs() > projected.amax(dim=1).abs()
    return torch.where(flip[:, None], -projected, projected).reshape(count, height, width).float()


def eigencam(activations: torch.Tensor) -> torch.Tensor:
    """(N, K, h, w) → (N, h, w)."""
    return torch.relu(projection(activations))
