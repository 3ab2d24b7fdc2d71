"""Classification quality per condition: accuracy and ROC-AUC.

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
