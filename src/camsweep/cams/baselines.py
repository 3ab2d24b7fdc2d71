"""Baseline maps: maps that know nothing about the model, so that every score can be read against them.

Each is declared in :mod:`camsweep.cams.registry` as a method (``baseline=True``) and goes through every
metric and table like a real one. Like a real map it lives on the explained layer's grid (h, w) and is
upsampled to the image by the metrics, so it has the same smoothness as the methods' maps at that layer.

* ``random``  — uniform noise U[0, 1) on the grid, seeded per image by the image itself (a hash of the
  model input's bytes and the grid's shape): the same image gets the same map in every run, batch and
  shard, and under a randomised model (it fails the randomisation test, as a map that ignores the model
  must); a perturbed copy of the image is another image and gets an independent map.
* ``centre``  — a centred isotropic Gaussian, σ = a quarter of the grid's shorter side (in pixels, on
  pixel centres): the centre-bias baseline of saliency benchmarks (Judd et al. 2009). Objects in photos
  and in the synthetic data tend to lie near the centre; a method that does not beat ``centre`` has not
  shown that it found the object.
* ``uniform`` — a constant map. Normalised, it has no peak, no energy and no region, so every localisation
  metric scores it as a complete miss (see :mod:`camsweep.metrics.localisation`) and its rank correlations
  are undefined (NaN); in the faithfulness curves its pixel order is the tie order (row-major).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

CENTRE_SIGMA = 0.25  # of the grid's shorter side


def _grid(activations: torch.Tensor) -> tuple[int, int, int]:
    count, _, height, width = activations.shape
    return count, height, width


def image_seed(image: torch.Tensor, grid: tuple[int, int]) -> int:
    """A 64-bit seed from one model input's float32 bytes and the map's grid shape."""
    digest = hashlib.blake2b(image.detach().to("cpu", torch.float32).contiguous().numpy().tobytes(), digest_size=8)
    digest.update(np.asarray(grid, dtype=np.int64).tobytes())
    return int.from_bytes(digest.digest(), "little")


def random_map(activations: torch.Tensor, _gradients: torch.Tensor | None, inputs: torch.Tensor) -> torch.Tensor:
    count, height, width = _grid(activations)
    maps = [np.random.default_rng(image_seed(image, (height, width))).random((height, width), dtype=np.float32)
            for image in inputs]
    return torch.from_numpy(np.stack(maps)).reshape(count, height, width).to(activations.device)


def centre_map(height: int, width: int) -> np.ndarray:
    """The centred Gaussian on an (height, width) grid, peak 1, float32."""
    sigma = CENTRE_SIGMA * min(height, width)
    rows = np.arange(height) + 0.5 - height / 2
    columns = np.arange(width) + 0.5 - width / 2
    squared = rows[:, None] ** 2 + columns[None, :] ** 2
    return np.exp(-squared / (2 * sigma**2)).astype(np.float32)


def centre_bias(activations: torch.Tensor, _gradients: torch.Tensor | None, _inputs: torch.Tensor) -> torch.Tensor:
    count, height, width = _grid(activations)
    return torch.from_numpy(centre_map(height, width)).expand(count, height, width).clone().to(activations.device)


def uniform_map(activations: torch.Tensor, _gradients: torch.Tensor | None, _inputs: torch.Tensor) -> torch.Tensor:
    count, height, width = _grid(activations)
    return activations.new_ones((count, height, width), dtype=torch.float32)


METHODS = {"random": random_map, "centre": centre_bias, "uniform": uniform_map}
