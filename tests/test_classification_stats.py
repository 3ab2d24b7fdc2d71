import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from camsweep import stats
from camsweep.metrics import classification


def test_roc_auc_matches_scikit_learn_with_ties(rng):
    labels = rng.integers(0, 4, 300)
    probs = rng.dirichlet(np.ones(4), 300).round(1)  # rounding creates many ties
    probs /= probs.sum(axis=1, keepdims=True)
    assert classification.roc_auc(labels, probs) == pytest.approx(roc_auc_score(labels, probs, multi_class="ovr"))
    binary = rng.integers(0, 2, 200)
    p = rng.random(200).round(1)
    two = np.stack([1 - p, p], axis=1)
    assert classification.roc_auc(binary, two) == pytest.approx(roc_auc_score(binary, p))


def test_roc_auc_by_hand_and_batched():
    # Positives scored 0.9, 0.4; negatives 0.5, 0.1: of 4 pairs, 3 are ordered correctly → 0.75.
    labels = np.array([1, 1, 0, 0])
    probs = np.stack([1 - np.array([0.9, 0.4, 0.5, 0.1]), [0.9, 0.4, 0.5, 0.1]], axis=1)
    assert classification.roc_auc(labels, probs) == pytest.approx(0.75)
    batched = classification.roc_auc(np.stack([labels, labels[::-1]]), np.stack([probs, probs]))
    np.testing.assert_allclose(batched, [0.75, 0.25])
    assert np.isnan(classification.roc_auc(np.array([1, 1]), probs[:2]))  # a class is missing
    assert classification.accuracy(labels, probs) == pytest.approx(0.75)


def test_mean_ci_degenerate_cases_and_coverage():
    settings = stats.BootstrapSettings(n_resamples=500)
    assert stats.mean_ci(np.array([]), settings, np.random.default_rng(0))[3] == 0
    assert stats.mean_ci(np.array([np.nan, 2.0]), settings, np.random.default_rng(0)) == (2.0, 2.0, 2.0, 1)
    assert stats.mean_ci(np.ones(20), settings, np.random.default_rng(0)) == (1.0, 1.0, 1.0, 20)
    values = np.random.default_rng(5).normal(10, 2, 400)
    mean, low, high, n = stats.mean_ci(values, settings, np.random.default_rng(0))
    assert n == 400 and low < mean < high
    # Percentile interval ≈ mean ± 1.96·σ/√n for a normal sample.
    assert high - low == pytest.approx(2 * 1.96 * 2 / np.sqrt(400), rel=0.2)
    assert stats.mean_ci(values, settings, np.random.default_rng(0)) == (mean, low, high, n)


def test_auc_interval_is_reproducible_and_brackets_the_estimate(rng):
    labels = rng.integers(0, 3, 150)
    probs = rng.dirichlet(np.ones(3), 150)
    probs[np.arange(150), labels] += 0.5
    probs /= probs.sum(axis=1, keepdims=True)
    settings = stats.BootstrapSettings(n_resamples=300)
    first = stats.statistic_ci(classification.roc_auc, (labels, probs), settings, np.random.default_rng(9))
    assert first == stats.statistic_ci(classification.roc_auc, (labels, probs), settings, np.random.default_rng(9))
    assert first[1] < first[0] < first[2]
