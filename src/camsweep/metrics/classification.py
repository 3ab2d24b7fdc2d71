"""Classification quality per condition: accuracy and ROC-AUC, and :func:`report` (the attention study's set: also
sensitivity, specificity, Youden's J and discriminant power, finite by a Haldane–Anscombe correction).

ROC-AUC uses the Mann–Whitney form AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋) with average ranks for ties
(SciPy ``rankdata``), which equals the trapezoidal area scikit-learn computes; being vectorised over
leading axes, it serves thousands of bootstrap resamples at once. Tests check it against scikit-learn.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def accuracy(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray | float:
    """Share of images whose arg-max class is the label; labels (..., n), probabilities (..., n, K)."""
    return np.mean(np.argmax(probabilities, axis=-1) == labels, axis=-1)


def _one_vs_rest_auc(positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    ranks = rankdata(scores, axis=-1)
    n_pos = positive.sum(axis=-1)
    n_neg = positive.shape[-1] - n_pos
    rank_sum = (ranks * positive).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def roc_auc(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray | float:
    """ROC-AUC: binary → score of class 1; multi-class → unweighted mean of one-vs-rest AUCs.

    ``labels`` (..., n) and ``probabilities`` (..., n, K), any leading batch axes. NaN (documented) when
    a class is absent from the labels: the AUC is undefined then.
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=float)
    n_classes = probabilities.shape[-1]
    if n_classes == 2:
        return _one_vs_rest_auc(labels == 1, probabilities[..., 1])[()]
    per_class = [_one_vs_rest_auc(labels == c, probabilities[..., c]) for c in range(n_classes)]
    return np.mean(per_class, axis=0)[()]


# Haldane–Anscombe: +0.5 in every cell of the 2×2 table, the usual correction of a log odds ratio.
HALDANE_ANSCOMBE = 0.5


def _counts(labels: np.ndarray, predictions: np.ndarray, positive: int) -> tuple[int, int, int, int]:
    """(TP, FN, TN, FP) of ``positive`` against the rest."""
    is_positive, said_positive = labels == positive, predictions == positive
    return (int(np.sum(is_positive & said_positive)), int(np.sum(is_positive & ~said_positive)),
            int(np.sum(~is_positive & ~said_positive)), int(np.sum(~is_positive & said_positive)))


def discriminant_power(tp: float, fn: float, tn: float, fp: float, correction: float | None = HALDANE_ANSCOMBE) -> float:
    """DP = (√3/π)·(log10(sens/(1−sens)) + log10(spec/(1−spec))) of one 2×2 table, = (√3/π)·log10 of the
    diagnostic odds ratio (TP·TN)/(FN·FP).

    ``correction`` (default 0.5, Haldane–Anscombe) is added to every cell before the rates are taken, so
    sens/(1−sens) = (TP + 0.5)/(FN + 0.5) and likewise for specificity: DP is finite even when a rate is 0
    or 1. It applies always, not only at 0 or 1, so DP does not jump when a rate reaches the edge; with
    hundreds of images per class it moves DP by a few thousandths unless a rate is close to 0 or 1.
    ``correction=None`` is the uncorrected formula, the one behind the attention study's published values
    (:data:`camsweep.studies.attention_training.lambda_table.PUBLISHED`): a rate of 1 gives +inf, a rate of 0
    −inf, both NaN (IEEE arithmetic, no warnings). Either way DP is NaN when a rate is undefined (no
    positives or no negatives)."""
    if tp + fn == 0 or tn + fp == 0:
        return float("nan")
    add = 0.0 if correction is None else float(correction)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.log10((np.float64(tp) + add) / (np.float64(fn) + add))
        odds = odds + np.log10((np.float64(tn) + add) / (np.float64(fp) + add))
    return float(np.sqrt(3.0) / np.pi * odds)


def report(
    labels: np.ndarray, probabilities: np.ndarray, dp_correction: float | None = HALDANE_ANSCOMBE
) -> dict[str, float]:
    """Accuracy, ROC-AUC, sensitivity, specificity, Youden's J and discriminant power (the attention study's metrics).

    ``labels`` (n,) class indices, ``probabilities`` (n, K); predictions are the arg-max class.

    * **Binary** (K = 2): the positive class is index 1; sensitivity = TP/(TP+FN), specificity =
      TN/(TN+FP), J = sensitivity + specificity − 1, DP = (√3/π)·(log10(sens/(1−sens)) +
      log10(spec/(1−spec))) with the rates of the corrected table (:func:`discriminant_power`).
      ``roc_auc`` scores class 1.
    * **Multi-class** (K > 2): each class c in turn is the positive class against the rest (one-vs-rest);
      its sensitivity, specificity, J and DP are computed, then each is the unweighted (macro) mean over
      the K classes. Macro sensitivity is the balanced accuracy; ``roc_auc`` is the macro one-vs-rest AUC.

    DP convention: ``dp_correction`` (default 0.5, Haldane–Anscombe) is added to every cell of each
    class's 2×2 table for DP only, so DP is finite even at sensitivity or specificity 0 or 1; the reported
    sensitivity, specificity and J are the uncorrected rates. ``dp_correction=None`` is the uncorrected
    formula: DP = +inf when a rate is 1 (−inf when one is 0, NaN for one 1 and the other 0), and in the
    macro average one class with DP = +inf makes the mean +inf (+inf with −inf gives NaN). A rate is NaN
    when its class (positive or negative) is absent from ``labels``, and so are J and DP then (macro means
    propagate NaN), as ``roc_auc`` is. Values are Python floats.
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise ValueError(f"probabilities must be (n, K) with K >= 2, got shape {probabilities.shape}")
    if labels.shape != (probabilities.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer ({probabilities.shape[0]},), got {labels.dtype} {labels.shape}")
    n_classes = probabilities.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes - 1}], got values in [{labels.min()}, {labels.max()}]")
    predictions = np.argmax(probabilities, axis=1)
    positives = [1] if n_classes == 2 else list(range(n_classes))
    rows = []
    for positive in positives:
        tp, fn, tn, fp = _counts(labels, predictions, positive)
        sensitivity = tp / (tp + fn) if tp + fn else np.nan
        specificity = tn / (tn + fp) if tn + fp else np.nan
        dp = discriminant_power(tp, fn, tn, fp, dp_correction)
        rows.append((sensitivity, specificity, sensitivity + specificity - 1.0, dp))
    with np.errstate(invalid="ignore"):  # uncorrected: +inf and −inf DPs average to NaN, silently (documented)
        sensitivity, specificity, youden, dp = (float(np.mean(column)) for column in zip(*rows, strict=True))
    return {
        "accuracy": float(accuracy(labels, probabilities)),
        "roc_auc": float(roc_auc(labels, probabilities)),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "youden": youden,
        "discriminant_power": dp,
    }
