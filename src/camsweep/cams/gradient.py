"""The gradient family: maps from a layer's activations A and the target's gradients G = ∂y/∂A.

All tensors are (N, K, h, w); every function returns the map (N, h, w) after the final ReLU. Formulas
and constants follow the papers as implemented in pytorch-grad-cam, so maps agree with it:

* ``gradcam``   (Selvaraju et al. 2017): w_k = mean_ij G_kij;  map = ReLU(Σ_k w_k A_k)
* ``gradcam++`` (Chattopadhay et al. 2018): α_kij = G² / (2G² + Σ_ij A_k · G³ + 1e-6) (0 where G = 0),
  w_k = Σ_ij α_kij · ReLU(G_kij)
* ``xgradcam``  (Fu et al. 2020): w_k = Σ_ij G_kij A_kij / (Σ_ij A_kij + 1e-7)
* ``layercam``  (Jiang et al. 2021): map = ReLU(Σ_k ReLU(G_k) ⊙ A_k)
* ``hirescam``  (Draelos & Carin 2020): map = ReLU(Σ_k G_k ⊙ A_k)
"""

from __future__ import annotations

from collections.abc import Callable

import torch

_GRADCAM_PP_EPS = 1e-6
_XGRADCAM_EPS = 1e-7


def _weighted(weights: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
    return torch.relu(torch.einsum("nk,nkhw->nhw", weights, activations))


def gradcam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    return _weighted(gradients.mean(dim=(2, 3)), activations)


def gradcam_plus_plus(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    squared = gradients.pow(2)
    cubed = gradients.pow(3)
    activation_sums = activations.sum(dim=(2, 3), keepdim=True)
    alpha = squared / (2 * squared + activation_sums * cubed + _GRADCAM_PP_EPS)
    alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
    return _weighted((alpha * torch.relu(gradients)).sum(dim=(2, 3)), activations)


def xgradcam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    activation_sums = activations.sum(dim=(2, 3), keepdim=True)
    weights = (gradients * activations / (activation_sums + _XGRADCAM_EPS)).sum(dim=(2, 3))
    return _weighted(weights, activations)


def layercam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    return torch.relu((torch.relu(gradients) * activations).sum(dim=1))


def hirescam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    return torch.relu((gradients * activations).sum(dim=1))


METHODS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gradcam": gradcam,
    "gradcam++": gradcam_plus_plus,
    "xgradcam": xgradcam,
    "layercam": layercam,
    "hirescam": hirescam,
}
