"""Topology-aware segmentation error: the warping error of Jain et al. (2010).

Jain, Bollmann, Richardson, Berger, Helmstaedter, Briggman, Denk, Bowden, Mendenhall, Abraham, Harris,
Kasthuri, Hayworth, Schalek, Tapia, Lichtman and Seung, "Boundary learning by optimization with topological
constraints", CVPR 2010.

Definitions
-----------
* **Digital topology (8, 4).** Foreground pixels are 8-connected, background pixels 4-connected (the
  dual pair that makes the Jordan curve theorem hold on the square grid; foreground 8-connectivity is
  also what :func:`camsweep.regions.largest_component` uses). The topology of a binary image is the number
  of foreground components and background components (the outside plus the holes).
* **Image border.** Every image is embedded in a background frame one pixel wide that never changes:
  a region touching the image edge does not cut the background into pieces (the frame connects them).
  Objects are thus treated as lying on an unbounded background, and border pixels can be flipped.
* **Simple pixel.** A pixel whose flip (foreground ↔ background) changes neither count. Whether a pixel
  is simple depends only on its 3 × 3 neighbourhood, so it is read from a 256-entry table indexed by the
  8 neighbours. The table is derived once at import by brute force (:func:`build_simple_pixel_table`):
  for each configuration, the 8-connected foreground and 4-connected background components *inside the
  3 × 3 window* are counted with the centre set and cleared, and the centre is simple when both counts
  agree. (For this pair of connectivities that local test is equivalent to the usual topological-number
  test T₈ = T₄ = 1; the tests check both.) Neighbour bit ``k`` is the k-th neighbour in raster order
  (row by row, top-left first, centre skipped): bit 0 = (−1, −1), 1 = (−1, 0), 2 = (−1, +1),
  3 = (0, −1), 4 = (0, +1), 5 = (+1, −1), 6 = (+1, 0), 7 = (+1, +1) as (row, column) offsets.
* **Warping.** A warping of a binary mask L is any mask reachable from L by a sequence of simple-pixel
  flips; it has L's topology. The **warping error** of L against T is the number of pixels where the
  warping L* of L that agrees best with T still differs from T: boundary displacements cost nothing,
  while each topological disagreement (a missing or extra object, a missing or extra hole, a merge or a
  split) leaves at least one pixel that cannot be warped away.

  Direction: as in Jain et al. (and Fiji's implementation), the *reference* (ground truth) is warped onto
  the candidate by default (``warped="truth"``): D(L, T) = min over warpings T* of T of |L Δ T*|.
  ``warped="predicted"`` warps the prediction towards the truth instead, counting the prediction's
  defects in truth pixels. The two differ in general (warping is not symmetric).
  No geometric constraint mask M is applied (the paper's optional M is "all pixels").

Approximation
-------------
Finding the best warping exactly is a hard combinatorial problem. camsweep uses **monotone greedy
warping**: repeatedly flip any pixel that both disagrees with T and is simple in the current L*, until no
such pixel is left. Every flip removes one disagreement, so the loop ends after at most |L Δ T| flips, and
the result is a valid warping of L: the reported error is an *upper bound* on the exact minimum (it can
exceed it where a better warping would first have to flip pixels that already agree with T).

Order, which makes the result deterministic: the grid is split into nine sub-grids by (row mod 3,
column mod 3), visited in the order (0, 0), (0, 1), (0, 2), (1, 0), …, (2, 2); one pass visits all nine,
and passes repeat until a whole pass flips nothing. Within one sub-grid, pixels are three apart, so their
3 × 3 neighbourhoods are disjoint: flipping all simple disagreeing pixels of a sub-grid at once equals
flipping them one by one in any order, each still simple when flipped. This lets every step be a
vectorised operation over all images of a batch.

Conventions
-----------
* Inputs are boolean stacks (N, H, W) of equal shape. The per-image metric ``warping_error`` is the count
  divided by H · W (a fraction in [0, 1]); ``warping_error_pixels`` is the count itself.
* Degenerate masks have well-defined results: identical masks → 0; an empty mask has no pixel that can be
  flipped (a lone foreground pixel is never simple), so an empty L against a non-empty T scores |T|;
  a non-empty L against an empty T shrinks but every component (and every hole) keeps at least one pixel;
  two full masks → 0.
* From maps (:func:`warping_scores_from_maps`): the predicted mask is obtained exactly as for the
  localisation metrics (:func:`camsweep.metrics.localisation.predicted_regions`: min–max normalise,
  threshold by the settings' rule, mean by default, then optionally the largest 8-connected component);
  an empty ground-truth mask makes the score NaN there, as for every localisation metric.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from camsweep import maps as saliency_maps
from camsweep.metrics import localisation

# (row, column) offsets of neighbour bits 0..7: raster order with the centre skipped.
NEIGHBOUR_OFFSETS: tuple[tuple[int, int], ...] = (
    (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1),
)
# Sub-grids (row mod 3, column mod 3) in the order a warping pass visits them.
_SUBGRIDS: tuple[tuple[int, int], ...] = tuple((a, b) for a in range(3) for b in range(3))

WarpedSide = Literal["predicted", "truth"]


def neighbourhood_window(code: int, centre: bool) -> np.ndarray:
    """The 3 × 3 uint8 window whose neighbours are the bits of ``code`` and whose centre is ``centre``."""
    window = np.zeros((3, 3), np.uint8)
    for bit, (dr, dc) in enumerate(NEIGHBOUR_OFFSETS):
        window[1 + dr, 1 + dc] = (code >> bit) & 1
    window[1, 1] = int(centre)
    return window


def _local_component_counts(window: np.ndarray) -> tuple[int, int]:
    """(8-connected foreground components, 4-connected background components) inside a 3 × 3 window."""
    foreground = cv2.connectedComponents(window, connectivity=8)[0] - 1  # label 0 is the other phase
    background = cv2.connectedComponents((1 - window).astype(np.uint8), connectivity=4)[0] - 1
    return foreground, background


def build_simple_pixel_table() -> np.ndarray:
    """256-entry boolean table: is the centre simple, for each neighbour configuration (bits as documented)."""
    table = np.zeros(256, dtype=bool)
    for code in range(256):
        with_centre = _local_component_counts(neighbourhood_window(code, True))
        without_centre = _local_component_counts(neighbourhood_window(code, False))
        table[code] = with_centre == without_centre
    return table


SIMPLE_PIXEL_TABLE = build_simple_pixel_table()


def _validated(predicted: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.ndim != 3 or predicted.shape != truth.shape:
        raise ValueError(f"masks must be two (N, H, W) stacks of one shape, got {predicted.shape} and {truth.shape}")
    for name, stack in (("predicted", predicted), ("truth", truth)):
        if stack.dtype != bool:
            raise ValueError(f"{name} masks must be boolean, got dtype {stack.dtype}")
    return predicted, truth


def _neighbour_codes(padded: np.ndarray) -> np.ndarray:
    """Neighbour codes of every pixel inside the one-pixel frame of ``padded`` (N, H + 2, W + 2) uint8."""
    height, width = padded.shape[1] - 2, padded.shape[2] - 2
    code = np.zeros((padded.shape[0], height, width), np.uint8)
    for bit, (dr, dc) in enumerate(NEIGHBOUR_OFFSETS):
        code += padded[:, 1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width] * np.uint8(1 << bit)
    return code


def simple_pixels(masks: np.ndarray) -> np.ndarray:
    """Which pixels of boolean masks (N, H, W) are simple (background frame outside the image)."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
    return SIMPLE_PIXEL_TABLE[_neighbour_codes(np.pad(masks.astype(np.uint8), ((0, 0), (1, 1), (1, 1))))]


def _to_subgrids(masks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(N, H, W) → (3, 3, N, rows + 2, cols + 2) uint8: plane [a, b] holds pixels (3i + a, 3j + b) at
    (1 + i, 1 + j). Pixels beyond the image (to the frame and up to a multiple of 3) are background."""
    count, height, width = masks.shape
    grid = np.zeros((count, 3 * rows, 3 * cols), np.uint8)
    grid[:, :height, :width] = masks
    planes = np.zeros((3, 3, count, rows + 2, cols + 2), np.uint8)
    planes[:, :, :, 1:-1, 1:-1] = grid.reshape(count, rows, 3, cols, 3).transpose(2, 4, 0, 1, 3)
    return planes


def _from_subgrids(planes: np.ndarray, height: int, width: int) -> np.ndarray:
    count, rows, cols = planes.shape[2], planes.shape[3] - 2, planes.shape[4] - 2
    grid = planes[:, :, :, 1:-1, 1:-1].transpose(2, 3, 0, 4, 1).reshape(count, 3 * rows, 3 * cols)
    return grid[:, :height, :width].astype(bool)


def warp(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Monotone greedy warping of boolean masks ``source`` towards ``target`` (both (N, H, W)).

    Returns the warped masks: topologically equivalent to ``source``, and no pixel where they still
    differ from ``target`` is simple. Order and determinism: see the module docstring.
    """
    source, target = _validated(source, target)
    count, height, width = source.shape
    rows, cols = -(-height // 3), -(-width // 3)
    # Each sub-grid is stored as its own contiguous plane so that every step works on contiguous memory:
    # the neighbour (dr, dc) of plane (a, b) is plane ((a + dr) mod 3, (b + dc) mod 3), shifted by
    # ((a + dr) // 3, (b + dc) // 3). Padding pixels agree with the target (both background): never flipped.
    current = _to_subgrids(source, rows, cols)
    goal = _to_subgrids(target, rows, cols)[:, :, :, 1:-1, 1:-1]
    active = np.flatnonzero((source != target).any(axis=(1, 2)))
    while active.size:
        # Work on the images still changing; converged ones drop out after the pass.
        working, working_goal = current[:, :, active], goal[:, :, active]
        flipped = np.zeros(active.size, dtype=bool)
        code = np.empty((active.size, rows, cols), np.uint8)
        for a, b in _SUBGRIDS:
            code[:] = 0
            for bit, (dr, dc) in enumerate(NEIGHBOUR_OFFSETS):
                row_shift, col_shift = 1 + (a + dr) // 3, 1 + (b + dc) // 3
                neighbour = working[(a + dr) % 3, (b + dc) % 3, :, row_shift : row_shift + rows, col_shift : col_shift + cols]
                code += neighbour * np.uint8(1 << bit)
            centre = working[a, b, :, 1:-1, 1:-1]  # a view: flips below write into ``working``
            flip = SIMPLE_PIXEL_TABLE[code] & (centre != working_goal[a, b])
            centre ^= flip.view(np.uint8)
            flipped |= flip.any(axis=(1, 2))
        current[:, :, active] = working
        active = active[flipped]
    return _from_subgrids(current, height, width)


def warping_error_pixels(predicted: np.ndarray, truth: np.ndarray, warped: WarpedSide = "truth") -> np.ndarray:
    """Per-image count of pixels where the warped mask still differs from the other one, (N,) int64.

    ``warped="truth"`` (default) warps the truth towards the prediction, as Jain et al. do;
    ``"predicted"`` warps the prediction towards the truth.
    """
    predicted, truth = _validated(predicted, truth)
    if warped == "predicted":
        return (warp(predicted, truth) != truth).sum(axis=(1, 2)).astype(np.int64)
    if warped == "truth":
        return (warp(truth, predicted) != predicted).sum(axis=(1, 2)).astype(np.int64)
    raise ValueError(f"warped must be 'predicted' or 'truth', got {warped!r}")


def warping_error(predicted: np.ndarray, truth: np.ndarray, warped: WarpedSide = "truth") -> np.ndarray:
    """Per-image warping error as a fraction of the H · W pixels, (N,) float64 in [0, 1]."""
    pixels = warping_error_pixels(predicted, truth, warped)
    height, width = np.shape(predicted)[1:]
    return pixels / float(height * width) if height * width else np.full(pixels.shape, np.nan)


def warping_scores_from_maps(
    maps: np.ndarray,
    truth: np.ndarray,
    settings: localisation.LocalisationSettings = localisation.LocalisationSettings(),
    warped: WarpedSide = "truth",
) -> dict[str, np.ndarray]:
    """``warping_error`` (fraction) and ``warping_error_pixels`` of maps (N, H, W) against masks (N, H, W).

    The predicted mask is the localisation metrics' region (normalise, threshold, optional largest
    component, per ``settings``). Images with an empty ground-truth mask score NaN in both.
    """
    maps, truth = np.asarray(maps), np.asarray(truth, dtype=bool)
    if maps.shape != truth.shape or maps.ndim != 3:
        raise ValueError(f"maps {maps.shape} and masks {truth.shape} must be (N, H, W) of one shape")
    predicted, _ = localisation.predicted_regions(saliency_maps.normalise(maps), settings)
    pixels = warping_error_pixels(predicted, truth, warped).astype(float)
    empty_truth = ~truth.any(axis=(1, 2))
    pixels[empty_truth] = np.nan
    height, width = truth.shape[1:]
    return {"warping_error": pixels / float(height * width), "warping_error_pixels": pixels}
