"""Dataset-level WSOL localisation metrics of Choe et al. (CVPR 2020): BoxAcc, MaxBoxAccV2 and PxAP.

"Evaluating Weakly Supervised Object Localization Methods Right" scores a set of maps by sweeping a
threshold over every normalised map instead of fixing one. Inputs follow camsweep's conventions: maps
``(N, H, W)`` at image resolution, boxes ``(N, 4)`` in inclusive pixel coordinates ``(x0, y0, x1, y1)``
with :data:`camsweep.regions.NO_BOX` for "no object", masks ``(N, H, W)`` bool.

Definitions and conventions
---------------------------
* **Normalisation.** Each map is min-max normalised to s ∈ [0, 1] by :func:`camsweep.maps.normalise`
  (a NaN anywhere raises ``ValueError``; a constant map becomes all zeros).
* **Threshold grid.** τ_k = k·step for k = 0, 1, … while k·step < 1 (step 0.01 by default, as in the
  paper's experiments: τ ∈ {0.00, 0.01, …, 0.99}), rounded to 12 decimals so that each τ_k is the double
  nearest its decimal value (``np.arange(0, 1, 0.01)`` alone gives 0.07000000000000001, so a score of
  exactly 0.07 would be off at the threshold meant as 0.07). Custom grids must be strictly increasing
  and lie in [0, 1].
* **Threshold comparison.** A pixel is *on* at τ when s ≥ τ (the paper's mask {s ≥ τ}), compared in
  float64 on the normalised map. As the normalised maximum is 1, this is also s ≥ τ·max s. At τ = 0
  every pixel is on, so every non-constant map predicts the whole image there.
* **Boxes of a thresholded map (MaxBoxAccV2, "multi-contour").** The candidate boxes at τ are the tight
  inclusive boxes of *all* contours of the on-pixels as found by OpenCV's ``findContours`` with the
  reference's retrieval mode ``RETR_TREE``, which returns every contour: the outer border of each
  8-connected component *and* the border of each hole (a 4-connected background region enclosed by the
  component; the area outside the image counts as background). A hole's box is the box of the
  foreground pixels bordering it, i.e. the hole's own box grown by one pixel on every side. Holes are
  kept because they can win: a thick ring around the object has an outer box far larger than the object
  but a hole box that fits it. (``RETR_LIST`` returns the same set of contours without the hierarchy,
  and is what is called here.) The per-image score at τ is the best IoU between the GT box and any
  candidate box, 0 when nothing is on.
* **Box IoU.** Inclusive coordinates: area = (x1 − x0 + 1)(y1 − y0 + 1), intersection likewise and
  clipped at 0. An empty box (NO_BOX) has area 0; the IoU of two empty boxes is NaN.
* **BoxAcc(τ, δ)** = share of images whose best IoU at τ is ≥ δ (inclusive). **MaxBoxAcc(δ)** = max over
  the grid of BoxAcc(·, δ); the best τ reported is the lowest one attaining it. **MaxBoxAccV2** = mean of
  MaxBoxAcc(δ) over δ ∈ {0.3, 0.5, 0.7}.
* **PxAP** (mask version). All pixels of all scored images are pooled. With the grid extended by
  τ_T := 1 (the reference's extra bin edge, which holds the pixels at the normalised maximum),
  PxPrec(τ) = TP/(TP + FP) and PxRec(τ) = TP/P for the pixels with s ≥ τ, and::

      PxAP = Σ_{l=0..T} PxPrec(τ_l) · (PxRec(τ_l) − PxRec(τ_{l+1})),   PxRec(τ_{T+1}) := 0,

  summed from the highest threshold down, i.e. the precision-recall curve integrated as a right-Riemann
  sum in recall starting from recall 0. A threshold at which nothing is predicted has no precision; its
  term is skipped (its recall step is 0 anyway). Counts come from one histogram of quantised scores,
  so the cost is one pass over the pixels whatever the grid size. Reported as a fraction in [0, 1].
* **Degenerate inputs.** A constant (all-zero included) map has no localisation: its best IoU is 0 at
  every τ, even against a full-image GT box — never a hit. In PxAP its pixels keep score 0, so they are
  predicted only at τ = 0, where every pixel of every map is. An image with an **empty GT** (NO_BOX, or
  a mask without a pixel) makes the metric undefined: per-image values are NaN, and dataset-level
  scores exclude the image and report it in ``n_excluded``. With nothing left to score the dataset
  value is NaN. A GT covering the whole image is legitimate: at τ = 0 any non-constant map's box is the
  whole image (IoU 1), and PxAP is 1 for any maps (precision is 1 at every threshold).

Cost. MaxBoxAccV2 traces contours once per map and threshold (100 ``findContours`` calls per map on the
default grid). The tracing takes over half the time and a literal implementation pays it too, so the
gain over one is small (``benchmarks/wsol.py``). Exact shortcuts: a threshold that turns no pixel off
reuses the previous contours, tracing is confined to the box of the on-pixels, levels come from one
pass over the scores, and the boxes and IoUs of all contours of a map are computed in one vectorised
pass. ``connectedComponentsWithStats`` (outer boxes) plus a labelling of the background (holes) gives the
same boxes but measured several times slower per call than ``findContours`` with the pinned OpenCV.

Differences from the reference code (``clovaai/wsolevaluation``), which can shift scores slightly: it
quantises the map to uint8 by truncation and keeps pixels with ⌊255 s⌋ > ⌊255 τ⌋ (strict, quantised)
where the paper and this module use s ≥ τ; its boxes end at x + w rather than x + w − 1 (one pixel
larger, clipped to the image) where the paper asks for the tightest box; a map with no contour gets box
(0, 0, 0, 0) rather than a failure; its grid is the unrounded ``np.arange`` values; PxAP is in percent;
it takes the best of several GT boxes per image and honours "ignore" regions of OpenImages masks,
whereas here each image has one GT box or mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from camsweep import maps as saliency_maps, regions

DEFAULT_STEP = 0.01
DEFAULT_IOU_THRESHOLDS = (0.3, 0.5, 0.7)
_CHUNK = 32  # maps normalised at a time: bounds the float64 working set (~13 MB at 224×224)


@dataclass(frozen=True)
class MaxBoxAccV2Result:
    """MaxBoxAccV2 with its parts. ``box_accuracy[i, k]`` is BoxAcc(thresholds[k], deltas[i])."""

    value: float
    deltas: tuple[float, ...]
    max_box_acc: tuple[float, ...]
    best_thresholds: tuple[float, ...]
    thresholds: np.ndarray
    box_accuracy: np.ndarray
    n_scored: int
    n_excluded: int


@dataclass(frozen=True)
class PxAPResult:
    """PxAP with its curve; arrays follow ``thresholds`` (the grid plus 1.0), ascending."""

    value: float
    thresholds: np.ndarray
    precision: np.ndarray  # NaN where no pixel is predicted
    recall: np.ndarray
    n_scored: int
    n_excluded: int


def threshold_grid(step: float = DEFAULT_STEP) -> np.ndarray:
    """τ_k = k·step for k·step < 1, rounded to 12 decimals (so τ_7 is 0.07, not 0.07000000000000001)."""
    if not 0 < step <= 1:
        raise ValueError(f"step must be in (0, 1], got {step}")
    return np.round(np.arange(0.0, 1.0, step), 12)


def _check_thresholds(thresholds: np.ndarray | None) -> np.ndarray:
    grid = threshold_grid() if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D array, got shape {grid.shape}")
    if np.isnan(grid).any() or grid[0] < 0 or grid[-1] > 1 or (np.diff(grid) <= 0).any():
        raise ValueError("thresholds must be strictly increasing and lie in [0, 1]")
    return grid


def _check_maps(maps: np.ndarray) -> np.ndarray:
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, H, W), got shape {maps.shape}")
    return maps


def _empty_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Validate GT boxes against the image shape; True where the box is NO_BOX."""
    height, width = shape
    x0, y0, x1, y1 = boxes.T
    empty = (boxes == regions.NO_BOX).all(axis=1)
    valid = (0 <= x0) & (x0 <= x1) & (x1 < width) & (0 <= y0) & (y0 <= y1) & (y1 < height)
    if not (valid | empty).all():
        bad = boxes[~(valid | empty)][0]
        raise ValueError(f"box {bad.tolist()} is neither NO_BOX nor inside a {height}×{width} image")
    return empty


def box_iou(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """IoU of inclusive boxes ``(..., 4)`` (broadcast). Empty boxes (x0 < 0) have area 0; both empty: NaN."""
    predicted = np.asarray(predicted, dtype=np.int64)
    truth = np.asarray(truth, dtype=np.int64)

    def area(box: np.ndarray) -> np.ndarray:
        sides = (box[..., 2] - box[..., 0] + 1) * (box[..., 3] - box[..., 1] + 1)
        return np.where(box[..., 0] >= 0, sides, 0)

    overlap_w = np.minimum(predicted[..., 2], truth[..., 2]) - np.maximum(predicted[..., 0], truth[..., 0]) + 1
    overlap_h = np.minimum(predicted[..., 3], truth[..., 3]) - np.maximum(predicted[..., 1], truth[..., 1]) + 1
    both_real = (predicted[..., 0] >= 0) & (truth[..., 0] >= 0)
    intersection = np.where(both_real, np.maximum(overlap_w, 0) * np.maximum(overlap_h, 0), 0)
    union = area(predicted) + area(truth) - intersection
    out = np.full(union.shape, np.nan)
    np.divide(intersection, union, out=out, where=union > 0)
    return out


def _threshold_levels(normalised: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Number of thresholds ≤ each score: a pixel is on at τ_k (s ≥ τ_k) exactly when its level > k.

    Equals ``np.searchsorted(thresholds, normalised, side="right")``, several times faster on the usual
    evenly spaced grid: guess the level from the spacing, check the guess with exact comparisons against
    the thresholds themselves, and binary-search only the scores where it was wrong (rounding puts a few
    scores next to a threshold on the wrong side; an uneven grid, many).
    """
    scores = normalised.ravel()
    n_thresholds = len(thresholds)
    bounded = np.concatenate(([-np.inf], thresholds, [np.inf]))  # level L ⇔ bounded[L] ≤ s < bounded[L + 1]
    spacing = (thresholds[-1] - thresholds[0]) / (n_thresholds - 1) if n_thresholds > 1 else 1.0
    guess = np.floor((scores - thresholds[0]) / spacing)
    levels = np.clip(guess, -1, n_thresholds - 1).astype(np.intp) + 1
    wrong = np.flatnonzero((np.take(bounded, levels) > scores) | (np.take(bounded, levels + 1) <= scores))
    if wrong.size:
        levels[wrong] = np.searchsorted(thresholds, scores[wrong], side="right")
    return levels.reshape(normalised.shape)


def _best_iou_one_map(levels: np.ndarray, truth: np.ndarray, n_thresholds: int) -> np.ndarray:
    """Best IoU over all contour boxes at each threshold, for one map's levels (H, W) and GT box (4,)."""
    height, width = levels.shape
    pixels_per_level = np.bincount(levels.ravel(), minlength=n_thresholds + 1)
    # Box of the on-pixels at every τ_k, from the highest level of each row and column: contours are
    # traced on that crop only, which gives the same contours (outside it everything is off).
    ks = np.arange(n_thresholds)[:, None]
    rows_on = levels.max(axis=1)[None, :] > ks
    cols_on = levels.max(axis=0)[None, :] > ks
    anything_on = rows_on.any(axis=1)
    top, bottom = rows_on.argmax(axis=1), height - 1 - rows_on[:, ::-1].argmax(axis=1)
    left, right = cols_on.argmax(axis=1), width - 1 - cols_on[:, ::-1].argmax(axis=1)

    source = np.arange(n_thresholds)  # threshold whose contours stand for this one
    contours_seen: list[np.ndarray] = []
    counts = np.zeros(n_thresholds, dtype=np.int64)
    for k in range(n_thresholds):
        if not anything_on[k]:
            continue
        # The on-set at τ_k differs from that at τ_{k-1} only by pixels of level k: reuse when there are none.
        if k > 0 and pixels_per_level[k] == 0:
            source[k] = source[k - 1]
            continue
        on = (levels[top[k] : bottom[k] + 1, left[k] : right[k] + 1] > k).view(np.uint8)
        contours, _ = cv2.findContours(on, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE,
                                       offset=(int(left[k]), int(top[k])))
        contours_seen.extend(contours)
        counts[k] = len(contours)
    best = np.zeros(n_thresholds)
    if not contours_seen:
        return best
    # Tight boxes of every contour at once: min/max of its points (CHAIN_APPROX_SIMPLE keeps the extremes).
    lengths = np.fromiter((len(c) for c in contours_seen), dtype=np.int64, count=len(contours_seen))
    points = np.concatenate(contours_seen).reshape(-1, 2)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    boxes = np.stack([np.minimum.reduceat(points[:, 0], starts), np.minimum.reduceat(points[:, 1], starts),
                      np.maximum.reduceat(points[:, 0], starts), np.maximum.reduceat(points[:, 1], starts)], axis=1)
    ious = box_iou(boxes, truth[None, :])
    has_contours = counts > 0
    group_starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[has_contours]
    best[has_contours] = np.maximum.reduceat(ious, group_starts)
    return best[source]


def best_box_iou(maps: np.ndarray, boxes: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Best IoU between each GT box and the boxes of all contours of its map thresholded at each τ.

    maps (N, H, W), boxes (N, 4) → (N, T) float. Rows of images with an empty GT box are NaN; a constant
    map's row is 0. See the module docstring for the contour and threshold conventions.
    """
    maps = _check_maps(maps)
    grid = _check_thresholds(thresholds)
    boxes = np.asarray(boxes)
    if boxes.shape != (len(maps), 4):
        raise ValueError(f"boxes must be ({len(maps)}, 4), got {boxes.shape}")
    empty = _empty_boxes(boxes, maps.shape[1:])
    best = np.full((len(maps), len(grid)), np.nan)
    for start in range(0, len(maps), _CHUNK):
        normalised = saliency_maps.normalise(maps[start : start + _CHUNK])
        # Small integer levels make each per-threshold mask one cheap comparison.
        levels = _threshold_levels(normalised, grid).astype(np.uint8 if len(grid) < 256 else np.uint32)
        constant = normalised.max(axis=(1, 2)) == 0  # the normalised maximum is 1 unless the map is constant
        for offset, index in enumerate(range(start, start + len(normalised))):
            if empty[index]:
                continue
            if constant[offset]:
                best[index] = 0.0  # no localisation at all: a failure at every τ, never a hit
                continue
            best[index] = _best_iou_one_map(levels[offset], boxes[index], len(grid))
    return best


def box_accuracy(best_iou: np.ndarray, delta: float) -> np.ndarray:
    """BoxAcc(τ, δ) for every τ: share of scored images with best IoU ≥ δ. (N, T) → (T,).

    Rows containing NaN (empty GT) are left out; with no scored row the result is NaN.
    """
    best_iou = np.asarray(best_iou, dtype=np.float64)
    if best_iou.ndim != 2:
        raise ValueError(f"best_iou must be (N, T), got shape {best_iou.shape}")
    scored = best_iou[~np.isnan(best_iou).any(axis=1)]
    if len(scored) == 0:
        return np.full(best_iou.shape[1], np.nan)
    return (scored >= delta).mean(axis=0)


def max_box_acc(best_iou: np.ndarray, delta: float) -> float:
    """MaxBoxAcc(δ): the best BoxAcc(τ, δ) over the threshold grid; NaN with no scored image."""
    accuracy = box_accuracy(best_iou, delta)
    return float(np.nan) if np.isnan(accuracy).all() else float(accuracy.max())


def box_acc(maps: np.ndarray, boxes: np.ndarray, threshold: float, delta: float) -> np.ndarray:
    """Per-image BoxAcc at one τ and δ: 1.0 if the best contour box has IoU ≥ δ, else 0.0; NaN for an
    empty GT box. The mean over the non-NaN images is the dataset's BoxAcc(τ, δ)."""
    best = best_box_iou(maps, boxes, np.array([threshold], dtype=np.float64))[:, 0]
    return np.where(np.isnan(best), np.nan, (best >= delta).astype(np.float64))


def max_box_acc_v2(
    maps: np.ndarray,
    boxes: np.ndarray,
    thresholds: np.ndarray | None = None,
    deltas: tuple[float, ...] = DEFAULT_IOU_THRESHOLDS,
) -> MaxBoxAccV2Result:
    """MaxBoxAccV2: mean over δ of MaxBoxAcc(δ), with multi-contour boxes (module docstring)."""
    grid = _check_thresholds(thresholds)
    best = best_box_iou(maps, boxes, grid)
    excluded = int(np.isnan(best).any(axis=1).sum())
    accuracy = np.stack([box_accuracy(best, delta) for delta in deltas]) if deltas else np.empty((0, len(grid)))
    scored = len(best) - excluded
    per_delta = tuple(float(row.max()) if scored else float(np.nan) for row in accuracy)
    best_thresholds = tuple(float(grid[int(row.argmax())]) if scored else float(np.nan) for row in accuracy)
    value = float(np.mean(per_delta)) if scored and deltas else float(np.nan)
    return MaxBoxAccV2Result(value=value, deltas=tuple(float(d) for d in deltas), max_box_acc=per_delta,
                             best_thresholds=best_thresholds, thresholds=grid, box_accuracy=accuracy,
                             n_scored=scored, n_excluded=excluded)


def _pxap_edges(thresholds: np.ndarray | None) -> np.ndarray:
    grid = _check_thresholds(thresholds)
    return grid if grid[-1] == 1.0 else np.append(grid, 1.0)


def pixel_counts(maps: np.ndarray, masks: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Per image, its pixels by GT class (0 background, 1 object) and quantised score level: (N, 2, L) int64,
    L = len(grid with 1.0 appended) + 1; level = number of thresholds ≤ the score. Summed over images these
    are PxAP's counts (:func:`pxap_from_counts`), so a bootstrap can resample images without re-reading maps.
    Images with an empty mask get all-zero counts (they have no object: excluded from PxAP)."""
    maps = _check_maps(maps)
    masks = np.asarray(masks, dtype=bool)
    if masks.shape != maps.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} must have the same shape")
    edges = _pxap_edges(thresholds)
    n_levels = len(edges) + 1
    counts = np.zeros((len(maps), 2, n_levels), dtype=np.int64)
    for start in range(0, len(maps), _CHUNK):
        normalised = saliency_maps.normalise(maps[start : start + _CHUNK])  # normalise first: NaN must raise
        truth = masks[start : start + _CHUNK]
        has_object = truth.any(axis=(1, 2))
        levels = _threshold_levels(normalised, edges)
        image = np.arange(len(truth))[:, None, None]
        flat = (levels + n_levels * truth + 2 * n_levels * image).ravel()
        chunk = np.bincount(flat, minlength=2 * n_levels * len(truth)).reshape(len(truth), 2, n_levels)
        counts[start : start + len(truth)] = np.where(has_object[:, None, None], chunk, 0)
    return counts


def pxap_from_counts(counts: np.ndarray) -> np.ndarray:
    """PxAP from pooled counts (..., 2, L) (sums of :func:`pixel_counts` over images), vectorised over any
    leading axes; NaN where there is no object pixel."""
    counts = np.asarray(counts, dtype=np.int64)
    negatives, positives = counts[..., 0, :], counts[..., 1, :]
    # A pixel is predicted at edge l when its level > l: suffix sums over levels l+1 … L−1.
    true_pos = np.flip(np.cumsum(np.flip(positives, -1), -1), -1)[..., 1:]
    false_pos = np.flip(np.cumsum(np.flip(negatives, -1), -1), -1)[..., 1:]
    total_pos = positives.sum(axis=-1)
    predicted = true_pos + false_pos
    precision = np.divide(true_pos, predicted, out=np.zeros(predicted.shape), where=predicted > 0)
    # PxRec(τ_l) − PxRec(τ_{l+1}) = ΔTP_l / P with PxRec above the top := 0; dividing by P after the sum
    # keeps integer steps exact (a GT covering everything gives exactly 1). No prediction: no term.
    true_pos_step = true_pos - np.concatenate([true_pos[..., 1:], np.zeros_like(true_pos[..., :1])], axis=-1)
    weighted = (precision * true_pos_step * (predicted > 0)).sum(axis=-1)
    return np.divide(weighted, total_pos, out=np.full(np.shape(total_pos), np.nan), where=total_pos > 0)


def pxap(maps: np.ndarray, masks: np.ndarray, thresholds: np.ndarray | None = None) -> PxAPResult:
    """Pixel average precision over the dataset (module docstring): maps and masks (N, H, W)."""
    edges = _pxap_edges(thresholds)
    per_image = pixel_counts(maps, masks, thresholds)
    excluded = int((per_image.sum(axis=(1, 2)) == 0).sum())
    negatives, positives = per_image.sum(axis=0)
    true_pos = np.cumsum(positives[::-1])[::-1][1:]
    false_pos = np.cumsum(negatives[::-1])[::-1][1:]
    total_pos = positives.sum()
    predicted = true_pos + false_pos
    precision = np.full(len(edges), np.nan)
    np.divide(true_pos, predicted, out=precision, where=predicted > 0)
    recall = true_pos / total_pos if total_pos > 0 else np.full(len(edges), np.nan)
    value = float(pxap_from_counts(np.stack([negatives, positives])))
    return PxAPResult(value=value, thresholds=edges, precision=precision, recall=recall,
                      n_scored=len(per_image) - excluded, n_excluded=excluded)
