"""ROAD, remove and debias (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for Attribution
Methods", ICML): MoRF and LeRF curves of the class probability when pixels are removed by noisy linear imputation.

Painting removed pixels over with a canvas (deletion, insertion) leaks *which* pixels were removed: the
shape of the painted region alone can carry the class ("class information leakage"). ROAD instead imputes
each removed pixel from its neighbours, with a little noise, so the removal itself says little about the
class. Inputs, validation and batching follow :mod:`camsweep.metrics.faithfulness` (``probabilities``,
``images`` in [0, 1], ``maps`` at image resolution and min-max normalised, ``targets``, ``batch_size``;
per-image float64 numpy results).

Removal
-------
* **Count**: at percentage ``p`` the ``n_p = floor(p·H·W/100 + 1/2)`` first pixels of the order are
  removed (the nearest count, halves up); ``p`` must lie in [0, 100) and ``n_p < H·W``: with every pixel
  removed nothing is left to impute from.
* **MoRF** removes pixels by decreasing normalised saliency, ties in ascending row-major flat index (the
  insertion/deletion order, :func:`camsweep.metrics.faithfulness.saliency_ranks`). **LeRF** removes from
  the other end of that same order, so its ties fall in descending flat index and the pixels it keeps are
  always a MoRF removal set (that of ``100 − p`` when the two counts add up to ``H·W``). A constant map
  is scored in that tie order: MoRF removes the top rows first, LeRF the bottom ones.
* The paper's code breaks ties by adding unseeded 1e-4·N(0, 1) noise to the map and removes
  ``int(H·W·p)`` pixels (floor, in floating point). pytorch-grad-cam thresholds the map at
  ``np.percentile(map, 100 − p)`` (linear interpolation) and removes every pixel at or above the threshold
  (its ``percentile`` argument is the share *kept*). Without ties and for 0 < p < 100 the three counts
  are within one pixel of each other, and camsweep's and pytorch-grad-cam's are equal whenever
  ``p·H·W/100`` is an integer (a multiple of 10 pixels on a 10 % grid; the paper's too, unless its
  floating-point floor falls one short, as ``int(100 · 0.29) = 28`` does). With ties pytorch-grad-cam
  removes a tied group whole (a constant map: every pixel, a singular system).

Noisy linear imputation
-----------------------
Per channel, each removed pixel becomes the weighted mean of its 8 neighbours inside the image, weights
1/6 for the 4 direct and 1/12 for the 4 diagonal ones (the paper's), normalised over the neighbours that
exist (edges and corners have fewer). Removed neighbours are unknowns too, so this is one sparse linear
equation per removed pixel::

    (Σ_j w_ij) x_i − Σ_{j removed} w_ij x_j = Σ_{j kept} w_ij v_j

The matrix is symmetric and diagonally dominant, strictly so in a row touching a kept pixel; every
8-connected region of removed pixels touches one unless it is the whole image, so the solution is unique.
It is solved in float64 with SuperLU (``scipy.sparse.linalg.splu``, all channels at once). Then Gaussian
noise of standard deviation ``noise`` (pixel units, the [0, 1] scale) is added to each removed pixel and
channel; kept pixels are unchanged, and nothing is clipped (clipping would bias the noise at 0 and 1).

Each equation's weights sum to one, so the imputation commutes with per-channel affine maps: imputing
[0, 1] pixels and then normalising them for the model (camsweep) equals imputing the normalised tensor
(pytorch-grad-cam); only the noise's scale differs. The default ``noise = 0.01`` is that of the paper's
``run_road``, which also imputes [0, 1] pixels and normalises afterwards.

The noise of a curve point comes from ``seeding.rng(seed, "road", str(id), curve, float(p))`` (``curve``
``"morf"`` or ``"lerf"``): a standard normal field over the whole image, of which the removed pixels use
their own values. So a result depends on neither the batch, the shard nor the other percentages, and
methods compared on one image meet the same noise wherever they remove the same pixel.

Curves and areas
----------------
A curve point is ``p_c`` (softmax) of the imputed image at one percentage; the unperturbed image is not a
point. The **area** of a curve is the **mean of its points over the configured percentages**, each
weighing the same: the rule of pytorch-grad-cam's ``ROAD*RelevantFirstAverage`` (which average
``p_c(imputed) − p_c(image)``, i.e. this area minus the image's ``p_c``). Not a trapezoid on [0, 1]: at
100 % the curve is undefined and its 0 % point is the image itself, the same for both orders; on evenly
spaced percentages the mean is the midpoint rule for the normalised area over the range they cover
(10, 20, …, 90: 5 % to 95 %). **MoRF lower is better** (removing what the map calls relevant should hurt),
**LeRF higher is better**, and their **gap LeRF − MoRF higher is better** (pytorch-grad-cam's
``ROADCombined`` is half of it). No percentages: no forwards, and NaN areas.

Cost: ``2·len(percentages)`` forwards and as many sparse solves per image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
from torch import Tensor

from camsweep import seeding
from camsweep.metrics.faithfulness import (
    DEFAULT_BATCH_SIZE,
    ProbabilityFunction,
    _check_images,
    _check_length,
    _check_positive,
    _check_targets,
    _checked_maps,
    _evaluate,
    normalise_maps,
    saliency_ranks,
)

Curve = Literal["morf", "lerf"]
CURVES: tuple[Curve, Curve] = ("morf", "lerf")

DEFAULT_PERCENTAGES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
DEFAULT_NOISE = 0.01
# (row offset, column offset, weight) of the 8 neighbours: 1/6 direct, 1/12 diagonal.
NEIGHBOUR_WEIGHTS = tuple(
    (row, column, 1 / 6 if row == 0 or column == 0 else 1 / 12)
    for row in (-1, 0, 1) for column in (-1, 0, 1) if (row, column) != (0, 0)
)


@dataclass(frozen=True)
class RoadCurves:
    """Per-image ROAD areas and curves; ``*_curves[i, j]`` is p_c with ``percentages[j]`` % removed."""

    morf: np.ndarray  # (N,) mean of each MoRF curve; lower is better
    lerf: np.ndarray  # (N,) mean of each LeRF curve; higher is better
    morf_curves: np.ndarray  # (N, P) the most relevant pixels removed
    lerf_curves: np.ndarray  # (N, P) the least relevant pixels removed
    percentages: np.ndarray  # (P,) as given

    @property
    def gap(self) -> np.ndarray:
        """LeRF − MoRF per image; higher is better."""
        return self.lerf - self.morf


def _check_percentages(percentages: Sequence[float]) -> np.ndarray:
    values = np.asarray(percentages, dtype=np.float64)
    if values.ndim != 1 or not (np.isfinite(values) & (values >= 0) & (values < 100)).all():
        raise ValueError(f"percentages must be a list of values in [0, 100), got {percentages!r}")
    return values


def removal_counts(pixels: int, percentages: Sequence[float]) -> np.ndarray:
    """``n_p = floor(p·pixels/100 + 1/2)`` pixels removed at each percentage; ``p`` in [0, 100), ``n_p < pixels``."""
    values = _check_percentages(percentages)
    counts = np.floor(values * pixels / 100 + 0.5).astype(np.int64)
    if (counts >= pixels).any():
        raise ValueError(f"a percentage of {values.max()} removes all {pixels} pixels: nothing is left to impute from")
    return counts


def _removed(ranks: Tensor, count: int, curve: Curve) -> Tensor:
    """The pixels a curve removes, from MoRF ranks ``(..., H·W)``: the first ``count`` or the last ``count``."""
    if curve == "morf":
        return ranks < count
    if curve == "lerf":
        return ranks >= ranks.shape[-1] - count
    raise ValueError(f"unknown curve {curve!r}; valid: {', '.join(CURVES)}")


def removal_masks(maps: Tensor | np.ndarray, percentage: float, curve: Curve) -> np.ndarray:
    """``(N, H, W)`` boolean masks of the pixels ``curve`` removes at ``percentage`` from maps ``(N, H, W)``."""
    normalised = normalise_maps(maps)
    count, height, width = normalised.shape
    number = int(removal_counts(height * width, [percentage])[0])
    return _removed(saliency_ranks(normalised), number, curve).view(count, height, width).numpy()


def linear_imputation(image: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """``image`` ``(C, H, W)`` as float64 with the ``removed`` pixels ``(H, W)`` imputed, without noise."""
    channels, height, width = image.shape
    values = np.array(image, dtype=np.float64).reshape(channels, -1)
    unknown = np.flatnonzero(removed)
    count = len(unknown)
    if count == 0:
        return values.reshape(channels, height, width)
    if count == height * width:
        raise ValueError("every pixel is removed: nothing is left to impute from")
    variable = np.full(height * width, -1)
    variable[unknown] = np.arange(count)
    rows, columns = np.divmod(unknown, width)
    diagonal = np.zeros(count)
    right = np.zeros((count, channels))
    entries = [(np.arange(count), np.arange(count), diagonal)]
    for row_offset, column_offset, weight in NEIGHBOUR_WEIGHTS:
        row, column = rows + row_offset, columns + column_offset
        inside = (row >= 0) & (row < height) & (column >= 0) & (column < width)
        equation = np.flatnonzero(inside)
        neighbour = row[inside] * width + column[inside]
        diagonal[equation] += weight
        other = variable[neighbour]
        free = other >= 0
        entries.append((equation[free], other[free], np.full(int(free.sum()), -weight)))
        # One neighbour per equation at this offset, so the fancy-indexed += never repeats an index.
        right[equation[~free]] += weight * values[:, neighbour[~free]].T
    equations, unknowns, coefficients = (np.concatenate(part) for part in zip(*entries, strict=True))
    matrix = scipy.sparse.csc_matrix((coefficients, (equations, unknowns)), shape=(count, count))
    # Symmetric and diagonally dominant: no pivoting needed, and a symmetric ordering keeps the fill low
    # (about half the time of spsolve's default on the default 56-pixel images).
    factors = scipy.sparse.linalg.splu(
        matrix, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True},
    )
    values[:, unknown] = factors.solve(right).T
    return values.reshape(channels, height, width)


def noisy_linear_imputation(
    image: np.ndarray, removed: np.ndarray, noise: float, generator: np.random.Generator | None,
) -> np.ndarray:
    """:func:`linear_imputation` plus ``noise`` × a standard normal field ``(C, H, W)`` from ``generator``
    on the removed pixels (``noise = 0`` draws nothing and takes no generator)."""
    imputed = linear_imputation(image, removed)
    if noise:
        field = generator.standard_normal(imputed.shape)
        imputed[:, removed] += noise * field[:, removed]
    return imputed


@torch.no_grad()
def road(
    probabilities: ProbabilityFunction, images: Tensor, maps: Tensor | np.ndarray, targets: Tensor, *,
    percentages: Sequence[float] = DEFAULT_PERCENTAGES, noise: float = DEFAULT_NOISE, seed: int = 0,
    ids: Sequence[object] | np.ndarray | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
) -> RoadCurves:
    """MoRF and LeRF curves and their areas for each image; see the module docstring.

    ``ids`` key each image's noise (default: its position), so an image scores the same in any batch or shard.
    """
    images = _check_images(images)
    normalised = _checked_maps(maps, images)
    targets = _check_targets(targets, len(images), images.device)
    batch_size = _check_positive("batch_size", batch_size)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise}")
    count, _, height, width = images.shape
    ids = np.arange(count) if ids is None else np.asarray(ids)
    _check_length("ids", ids, count)
    percentages = _check_percentages(percentages)
    removed_counts = removal_counts(height * width, percentages)
    points = len(percentages)
    ranks = saliency_ranks(normalised).cpu()

    def derived_image(index: int) -> np.ndarray:
        # Derived image `index` is image i, curve (MoRF then LeRF) and percentage j, in that nesting.
        image, rest = divmod(index, 2 * points)
        curve, point = CURVES[rest // points], rest % points
        removed = _removed(ranks[image], int(removed_counts[point]), curve).view(height, width).numpy()
        generator = seeding.rng(seed, "road", str(ids[image]), curve, float(percentages[point])) if noise else None
        pixels = images[image].detach().to("cpu", torch.float64).numpy()
        return noisy_linear_imputation(pixels, removed, noise, generator)

    def build_batch(index: Tensor) -> Tensor:
        batch = np.stack([derived_image(i) for i in index.tolist()])
        return torch.from_numpy(batch).to(device=images.device, dtype=images.dtype)

    evaluated = _evaluate(probabilities, build_batch, targets.repeat_interleave(2 * points), batch_size)
    curves = evaluated.view(count, 2, points)
    areas = curves.mean(dim=2)  # NaN without percentages
    return RoadCurves(areas[:, 0].numpy(), areas[:, 1].numpy(), curves[:, 0].numpy(), curves[:, 1].numpy(), percentages)
