"""How far each metric can be trusted, per run: one row per (dataset, model, method, layer, metric).

A metric worth reading must (a) tell a map that explains the model from one that does not, (b) say the
same thing whether the object is given as a box or as a mask, when it exists in both versions, and
(c) rank the images alike when the images are perturbed. The three column groups answer these in turn:

* ``separation_<other>`` (with ``_low``/``_high``, a percentile-bootstrap CI over images): the **matched-pairs
  rank-biserial correlation** (Kerby 2014) between the method's maps of the trained model and ``other``'s
  maps on the same clean images — ``randomised`` (the method's maps of the model randomised from
  ``sanity.randomise_from``, scored with the trained model), and each baseline map (``random``, ``centre``,
  ``uniform``). With d = the method's score − the other's, oriented so that d > 0 means the method's map
  scores *better* (higher, or lower for lower-is-better metrics), and the pairs with d = 0 dropped:
  r = (R⁺ − R⁻) / (R⁺ + R⁻), R± the sums of the ranks of |d| (average ranks for ties) over d > 0 and d < 0.
  r = 1: the trained map scores better on every image; 0: no separation; −1: worse on every image. All
  differences zero → 0 (the metric cannot tell them apart). Bounded, rank-based (binary metrics such as the
  pointing game included) and the effect size of the Wilcoxon test in ``method_comparisons.csv``.
  ``n_<other>`` counts the images with both scores finite.
* ``box_mask_pair``, ``box_mask_rank_correlation`` (with CI): Spearman correlation across clean images
  between the metric's box and mask versions (the box-vs-mask study's question, for every pair); the same
  value on both rows of a pair, NaN for metrics without a twin. A low value means the two versions rank the
  images differently: a conclusion drawn from one does not carry over to the other.
* ``severity_rank_correlation`` (mean) and ``severity_rank_correlation_min`` with ``severity_worst``: per
  perturbed condition, the Spearman correlation across images between the metric on the clean image and
  on its perturbed copy, averaged over the conditions, and the lowest one. High: the metric ranks images
  consistently as the input degrades. NaN for metrics scored on clean images only (faithfulness).

A Spearman correlation is NaN where one side is constant (e.g. a pointing game hit on every image); its
CI is NaN when any bootstrap resample is constant (:func:`camsweep.stats.statistic_ci`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from camsweep import seeding, stats
from camsweep.metrics import registry
from camsweep.perturb import CLEAN

# Localisation metrics with a box and a mask version, named by what they measure.
BOX_MASK_PAIRS = {
    "iou": ("iou_box", "iou_mask"), "le": ("le_box", "le_mask"),
    "pointing_game": ("pointing_game_box", "pointing_game_mask"),
    "energy_pg": ("energy_pg_box", "energy_pg_mask"), "f1": ("f1_box", "f1_mask"),
    "soft_f": ("soft_f_box", "soft_f_mask"), "mae": ("mae_box", "mae"),
    "le_seed": ("le_box_seed", "le_mask_seed"), "f1_seed": ("f1_box_seed", "f1_mask_seed"),
}
KEYS = ["dataset", "model", "method", "layer"]
# Every per-image metric but the stability RMSE, which is itself a comparison of maps.
METRICS = tuple(name for name in registry.names(level="image") if name != "cam_rmse")
RANDOMISED = "randomised"


def rank_biserial(differences: np.ndarray) -> np.ndarray:
    """Matched-pairs rank-biserial correlation of paired differences along the last axis (finite values;
    zeros dropped; all zero → 0). Vectorised over leading axes (bootstrap resamples)."""
    differences = np.asarray(differences, dtype=float)
    zeros = (differences == 0).sum(axis=-1, keepdims=True)
    # Average ranks of |d| among the non-zero differences: the zeros take the lowest ranks 1…z, so the
    # non-zero ones' ranks among all are shifted by exactly z.
    ranks = rankdata(np.abs(differences), axis=-1) - zeros
    positive = np.where(differences > 0, ranks, 0.0).sum(axis=-1)
    negative = np.where(differences < 0, ranks, 0.0).sum(axis=-1)
    total = positive + negative
    return np.divide(positive - negative, total, out=np.zeros_like(total), where=total > 0)


def _resampled_rank_biserial(differences: np.ndarray):
    """``index (..., n) → r`` of the resample ``differences[index]``, without ranking each resample: a value's
    average rank in a resample is (how many resampled values lie below it) + (its copies + 1) / 2, so the
    ranks follow from the original ties and the resample's counts (exactly the ranks :func:`rank_biserial`
    would give the resampled differences)."""
    count = len(differences)
    magnitudes, groups = np.unique(np.abs(differences), return_inverse=True)
    signs = np.sign(differences)
    positive = np.zeros((count, len(magnitudes)))
    negative = np.zeros((count, len(magnitudes)))
    positive[np.arange(count), groups] = signs > 0
    negative[np.arange(count), groups] = signs < 0

    def statistic(index: np.ndarray) -> np.ndarray:
        weights = stats.resample_counts(np.atleast_2d(index), count)
        above, below = weights @ positive, weights @ negative
        copies = above + below  # zero differences belong to neither: they are dropped, as in rank_biserial
        ranks = np.cumsum(copies, axis=-1) - copies + (copies + 1) / 2
        plus, minus = (ranks * above).sum(axis=-1), (ranks * below).sum(axis=-1)
        total = plus + minus
        r = np.divide(plus - minus, total, out=np.zeros_like(total), where=total > 0)
        return r if index.ndim > 1 else r[0]

    return statistic


def spearman(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Spearman correlation along the last axis (average ranks); NaN where either side is constant."""
    first = rankdata(first, axis=-1)
    second = rankdata(second, axis=-1)
    first -= first.mean(axis=-1, keepdims=True)
    second -= second.mean(axis=-1, keepdims=True)
    norms = np.sqrt((first**2).sum(axis=-1) * (second**2).sum(axis=-1))
    covariance = (first * second).sum(axis=-1)
    return np.divide(covariance, norms, out=np.full(np.shape(covariance), np.nan), where=norms > 0)


def _paired(frame: pd.DataFrame, other: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The metric's values of two per-image frames indexed by sorted image id, on the images both have a
    finite value for, in id order."""
    if not frame.index.equals(other.index):
        common = frame.index.intersection(other.index)
        frame, other = frame.loc[common], other.loc[common]
    first, second = frame[metric].to_numpy(float), other[metric].to_numpy(float)
    finite = np.isfinite(first) & np.isfinite(second)
    return first[finite], second[finite]


def _by_keys(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, pd.DataFrame]:
    """Each group of ``keys``, indexed by its sorted image ids."""
    return {group_keys: group.set_index("id").sort_index(kind="stable")
            for group_keys, group in frame.groupby(keys, sort=True)}


def _ci(statistic, samples, settings, rng) -> tuple[float, float, float]:
    if len(samples[0]) == 0:
        return np.nan, np.nan, np.nan
    if len(samples[0]) == 1:
        value = float(statistic(*samples))
        return value, value, value
    return stats.statistic_ci(statistic, samples, settings, rng)


def separation(
    method: np.ndarray, other: np.ndarray, higher_is_better: bool, settings: stats.BootstrapSettings,
    rng: np.random.Generator,
) -> tuple[float, float, float]:
    """(rank-biserial r, CI low, CI high) of method − other, oriented so that r > 0 favours ``method``."""
    sign = 1.0 if higher_is_better else -1.0
    differences = sign * (np.asarray(method, dtype=float) - np.asarray(other, dtype=float))
    if len(differences) < 2:
        return _ci(rank_biserial, (differences,), settings, rng)
    return stats.statistic_ci(_resampled_rank_biserial(differences), (np.arange(len(differences)),), settings, rng)


def reliability_table(
    scores: pd.DataFrame,
    randomised: pd.DataFrame,
    metrics: Sequence[str],
    baselines: Sequence[str],
    settings: stats.BootstrapSettings,
    seed: int,
) -> pd.DataFrame:
    """The table of the module docstring. ``scores``: per-image rows of every map (methods and baselines)
    with ``KEYS``, ``perturbation``, ``severity``, ``id`` and metric columns (faithfulness columns on the
    clean rows only); ``randomised``: the same for the randomised model's maps of the methods, clean images,
    without the condition columns. Rows for the methods only (not the baselines), sorted by the keys."""
    baselines = [b for b in baselines if b in set(scores["method"])]
    is_clean = (scores["perturbation"] == CLEAN[0]) & (scores["severity"] == CLEAN[1])
    clean = _by_keys(scores[is_clean], KEYS)
    perturbed: dict[tuple, dict[str, pd.DataFrame]] = {}
    for (*keys, perturbation, severity), group in _by_keys(scores[~is_clean], [*KEYS, "perturbation", "severity"]).items():
        perturbed.setdefault(tuple(keys), {})[f"{perturbation}/{severity}"] = group
    randomised = _by_keys(randomised, KEYS)
    pair_of = {column: name for name, columns in BOX_MASK_PAIRS.items() for column in columns}
    empty = pd.DataFrame()
    rows = []
    for keys, group in clean.items():
        dataset, model, method, layer = keys
        if method in baselines:
            continue
        others = {RANDOMISED: randomised.get(keys, empty)}
        for baseline in baselines:
            others[baseline] = clean.get((dataset, model, baseline, layer), empty)
        for metric in metrics:
            if metric not in group or not np.isfinite(group[metric].to_numpy(float)).any():
                continue  # not scored for this layer (faithfulness runs on its own layers)
            higher = registry.get(metric).higher_is_better
            row = {**dict(zip(KEYS, keys, strict=True)), "metric": metric, "higher_is_better": higher}
            for name, other in others.items():
                first, second = _paired(group, other, metric) if metric in other else (np.empty(0), np.empty(0))
                rng = seeding.rng(seed, "reliability", *keys, metric, name)
                estimate, low, high = separation(first, second, higher, settings, rng)
                row |= {f"separation_{name}": estimate, f"separation_{name}_low": low,
                        f"separation_{name}_high": high, f"n_{name}": len(first)}
            row |= _box_mask(group, metric, pair_of.get(metric), settings, seed, keys)
            row |= _severity_stability(group, perturbed.get(keys, {}), metric)
            rows.append(row)
    return pd.DataFrame(rows).sort_values([*KEYS, "metric"], kind="stable").reset_index(drop=True) if rows else (
        pd.DataFrame(columns=[*KEYS, "metric"]))


def _box_mask(group: pd.DataFrame, metric: str, pair: str | None, settings, seed: int, keys) -> dict[str, object]:
    if pair is None or not set(BOX_MASK_PAIRS[pair]) <= set(group.columns):
        pair = pair or ""
        return {"box_mask_pair": pair, "box_mask_rank_correlation": np.nan, "box_mask_rank_correlation_low": np.nan,
                "box_mask_rank_correlation_high": np.nan}
    box, mask = BOX_MASK_PAIRS[pair]
    values = group[[box, mask]].to_numpy(float)  # in id order
    values = values[np.isfinite(values).all(axis=1)]
    rng = seeding.rng(seed, "reliability", *keys, "box_mask", pair)  # one draw per pair: both rows agree
    estimate, low, high = _ci(spearman, (values[:, 0], values[:, 1]), settings, rng)
    return {"box_mask_pair": pair, "box_mask_rank_correlation": estimate, "box_mask_rank_correlation_low": low,
            "box_mask_rank_correlation_high": high}


def _severity_stability(clean: pd.DataFrame, conditions: dict[str, pd.DataFrame], metric: str) -> dict[str, object]:
    correlations = {}
    for name, condition in conditions.items():
        if metric in condition:
            first, second = _paired(clean, condition, metric)
            correlations[name] = float(spearman(first, second)) if len(first) > 1 else np.nan
    defined = {name: value for name, value in correlations.items() if np.isfinite(value)}
    if not defined:
        return {"severity_rank_correlation": np.nan, "severity_rank_correlation_min": np.nan, "severity_worst": ""}
    worst = min(defined, key=defined.get)
    return {"severity_rank_correlation": float(np.mean(list(defined.values()))),
            "severity_rank_correlation_min": defined[worst], "severity_worst": worst}
