"""Classification quality per condition: accuracy and ROC-AUC, and :func:`report` (the attention study's set: also
sensitivity, specificity, Youden's J and discriminant power).

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


def _rates(labels: np.ndarray, predictions: np.ndarray, positive: int) -> tuple[float, float]:
    """(sensitivity, specificity) of ``positive`` against the rest; NaN where a denominator is 0."""
    is_positive, said_positive = labels == positive, predictions == positive
    tp, fn = np.sum(is_positive & said_positive), np.sum(is_positive & ~said_positive)
    tn, fp = np.sum(~is_positive & ~said_positive), np.sum(~is_positive & said_positive)
    sensitivity = tp / (tp + fn) if tp + fn else np.nan
    specificity = tn / (tn + fp) if tn + fp else np.nan
    return float(sensitivity), float(specificity)


def discriminant_power(sensitivity: float, specificity: float) -> float:
    """DP = (√3/π)·(log10(sens/(1−sens)) + log10(spec/(1−spec))), exact in IEEE arithmetic: a rate of 1
    gives a log-odds of +inf, a rate of 0 gives −inf, so DP is +inf when either rate is 1 (and the other
    is not 0), −inf when either is 0 (and the other is not 1), NaN for sens = 1 with spec = 0 (or the
    reverse) and for a NaN rate. No floating-point warnings escape."""
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.log10(np.float64(sensitivity) / (1.0 - np.float64(sensitivity)))
        odds = odds + np.log10(np.float64(specificity) / (1.0 - np.float64(specificity)))
        return float(np.sqrt(3.0) / np.pi * odds)


def report(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Accuracy, ROC-AUC, sensitivity, specificity, Youden's J and discriminant power (the attention study's metrics).

    ``labels`` (n,) class indices, ``probabilities`` (n, K); predictions are the arg-max class.

    * **Binary** (K = 2): the positive class is index 1; sensitivity = TP/(TP+FN), specificity =
      TN/(TN+FP), J = sensitivity + specificity − 1, DP = (√3/π)·(log10(sens/(1−sens)) +
      log10(spec/(1−spec))). ``roc_auc`` scores class 1.
    * **Multi-class** (K > 2): each class c in turn is the positive class against the rest (one-vs-rest);
      its sensitivity, specificity, J and DP are computed, then each is the unweighted (macro) mean over
      the K classes. Macro sensitivity is the balanced accuracy; ``roc_auc`` is the macro one-vs-rest AUC.

    DP convention: a rate of exactly 1 has infinite log-odds, so DP = +inf when sensitivity or
    specificity is 1 (−inf when one is 0, NaN for one 1 and the other 0); in the macro average one class
    with DP = +inf makes the mean +inf (and +inf with −inf gives NaN). A rate is NaN when its class
    (positive or negative) is absent from ``labels``, and so are J and DP then (macro means propagate NaN),
    as ``roc_auc`` is. Values are Python floats.
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
        sensitivity, specificity = _rates(labels, predictions, positive)
        rows.append((sensitivity, specificity, sensitivity + specificity - 1.0, discriminant_power(sensitivity, specificity)))
    with np.errstate(invalid="ignore"):  # +inf and −inf DPs average to NaN, silently (documented)
        sensitivity, specificity, youden, dp = (float(np.mean(column)) for column in zip(*rows, strict=True))
    return {
        "accuracy": float(accuracy(labels, probabilities)),
        "roc_auc": float(roc_auc(labels, probabilities)),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "youden": youden,
        "discriminant_power": dp,
    }
