import warnings

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, recall_score, roc_auc_score

from camsweep import stats, tables
from camsweep.metrics import classification
from camsweep.predictions import predictions_frame

DP_SCALE = np.sqrt(3) / np.pi


def _probabilities(predictions: np.ndarray, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Random probabilities whose arg-max is ``predictions``."""
    probs = rng.random((len(predictions), n_classes)) * 0.5
    probs[np.arange(len(predictions)), predictions] = 0.6 + 0.4 * rng.random(len(predictions))
    return probs / probs.sum(axis=1, keepdims=True)


def test_binary_report_by_hand(rng):
    # Confusion matrix (rows: truth 0/1, columns: predicted 0/1): [[TN=4, FP=2], [FN=1, TP=3]].
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    predictions = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 1])
    probs = _probabilities(predictions, 2, rng)
    assert confusion_matrix(labels, predictions).tolist() == [[4, 2], [1, 3]]
    out = classification.report(labels, probs)
    assert out["sensitivity"] == pytest.approx(3 / 4) == recall_score(labels, predictions, pos_label=1)
    assert out["specificity"] == pytest.approx(4 / 6) == recall_score(labels, predictions, pos_label=0)
    assert out["youden"] == pytest.approx(3 / 4 + 4 / 6 - 1)
    # Corrected (+0.5 per cell): log10(3.5/1.5) + log10(4.5/2.5) = log10(7/3 · 9/5) = log10(4.2)
    assert out["discriminant_power"] == pytest.approx(DP_SCALE * np.log10(4.2))
    # Uncorrected: log10(0.75/0.25) + log10((2/3)/(1/3)) = log10(3) + log10(2) = log10(6)
    uncorrected = classification.report(labels, probs, dp_correction=None)
    assert uncorrected["discriminant_power"] == pytest.approx(DP_SCALE * np.log10(6))
    assert {k: v for k, v in uncorrected.items() if k != "discriminant_power"} == {
        k: v for k, v in out.items() if k != "discriminant_power"}
    assert out["accuracy"] == pytest.approx(7 / 10)
    assert out["roc_auc"] == pytest.approx(roc_auc_score(labels, probs[:, 1]))
    assert set(out) == {"accuracy", "roc_auc", "sensitivity", "specificity", "youden", "discriminant_power"}
    assert all(type(v) is float for v in out.values())


def test_multiclass_report_is_the_macro_mean_of_one_vs_rest(rng):
    # Truth × predicted for 3 classes:
    #   [[5, 1, 0],
    #    [2, 3, 1],
    #    [0, 1, 7]]
    matrix = np.array([[5, 1, 0], [2, 3, 1], [0, 1, 7]])
    labels = np.concatenate([np.full(matrix[t, p], t) for t in range(3) for p in range(3)])
    predictions = np.concatenate([np.full(matrix[t, p], p) for t in range(3) for p in range(3)])
    order = rng.permutation(len(labels))
    labels, predictions = labels[order], predictions[order]
    assert confusion_matrix(labels, predictions).tolist() == matrix.tolist()
    n = matrix.sum()  # 20
    # class 0: TP 5, FN 1, FP 2, TN 12; class 1: TP 3, FN 3, FP 2, TN 12; class 2: TP 7, FN 1, FP 1, TN 11
    sens = np.array([5 / 6, 3 / 6, 7 / 8])
    spec = np.array([12 / 14, 12 / 14, 11 / 12])
    for c in range(3):
        tp = matrix[c, c]
        fp = matrix[:, c].sum() - tp
        fn = matrix[c].sum() - tp
        assert (tp / (tp + fn), (n - tp - fp - fn) / (n - tp - fn)) == pytest.approx((sens[c], spec[c]))
    dp = DP_SCALE * (np.log10(sens / (1 - sens)) + np.log10(spec / (1 - spec)))
    # Corrected per class: (TP + ½)/(FN + ½) · (TN + ½)/(FP + ½) = 5.5/1.5 · 12.5/2.5, 3.5/3.5 · 12.5/2.5, 7.5/1.5 · 11.5/1.5
    corrected = DP_SCALE * np.log10([55 / 3, 5.0, 115 / 3])
    probs = _probabilities(predictions, 3, rng)
    out = classification.report(labels, probs)
    assert classification.report(labels, probs, dp_correction=None)["discriminant_power"] == pytest.approx(dp.mean())
    assert out["sensitivity"] == pytest.approx(sens.mean()) == recall_score(labels, predictions, average="macro")
    assert out["specificity"] == pytest.approx(spec.mean())
    assert out["youden"] == pytest.approx((sens + spec - 1).mean())
    assert out["discriminant_power"] == pytest.approx(corrected.mean())
    assert out["accuracy"] == pytest.approx(15 / 20)


def test_report_agrees_with_scikit_learn_on_random_data(rng):
    for n_classes in (2, 4):
        labels = rng.integers(0, n_classes, 500)
        probs = rng.dirichlet(np.ones(n_classes), 500)
        predictions = probs.argmax(1)
        matrix = confusion_matrix(labels, predictions, labels=list(range(n_classes)))
        tp = np.diag(matrix)
        fn = matrix.sum(1) - tp
        fp = matrix.sum(0) - tp
        tn = matrix.sum() - tp - fn - fp
        classes = [1] if n_classes == 2 else list(range(n_classes))
        out = classification.report(labels, probs)
        assert out["sensitivity"] == pytest.approx(np.mean(recall_score(labels, predictions, average=None)[classes]))
        assert out["specificity"] == pytest.approx(np.mean((tn / (tn + fp))[classes]))
        expected_auc = roc_auc_score(labels, probs[:, 1]) if n_classes == 2 else roc_auc_score(labels, probs, multi_class="ovr")
        assert out["roc_auc"] == pytest.approx(expected_auc)


def test_corrected_discriminant_power_by_hand():
    # TP 14, FN 1, TN 49, FP 0: specificity 1. +0.5 per cell: 14.5/1.5 · 49.5/0.5 = 9.6667 · 99 = 957, so
    # DP = (√3/π)·log10(957) = 0.5513289 · 2.9809119 = 1.6434629.
    assert classification.discriminant_power(14, 1, 49, 0) == pytest.approx(1.6434629, abs=1e-7)
    labels = np.array([1] * 15 + [0] * 49)
    predictions = np.array([1] * 14 + [0] + [0] * 49)
    out = classification.report(labels, np.eye(2)[predictions])
    assert (out["sensitivity"], out["specificity"]) == (14 / 15, 1.0)  # the rates themselves stay uncorrected
    assert out["discriminant_power"] == pytest.approx(1.6434629, abs=1e-7)
    assert classification.discriminant_power(14, 1, 49, 0, correction=None) == np.inf
    assert classification.discriminant_power(3, 3, 7, 7) == 0.0  # an uninformative table: odds 1 either way


def test_corrected_discriminant_power_is_finite_at_perfect_classification(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = np.array([0, 0, 1, 1])
        perfect = classification.report(labels, _probabilities(labels, 2, rng))
        # TP 2, FN 0, TN 2, FP 0: (2.5/0.5)² = 25
        assert perfect["discriminant_power"] == pytest.approx(DP_SCALE * np.log10(25))
        # every image called positive (sensitivity 1, specificity 0): 2.5/0.5 · 0.5/2.5 = 1, DP 0
        assert classification.report(labels, _probabilities(np.ones(4, int), 2, rng))["discriminant_power"] == pytest.approx(0, abs=1e-12)
        # three classes, two images each, all right: every class has TP 2, FN 0, TN 4, FP 0 → 2.5/0.5 · 4.5/0.5 = 45
        three = np.array([0, 1, 2, 0, 1, 2])
        assert classification.report(three, _probabilities(three, 3, rng))["discriminant_power"] == pytest.approx(
            DP_SCALE * np.log10(45))
        # one class perfect, the others not: the macro mean of three finite values
        truth, said = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 2, 2, 1])
        # class 0: TP 2 FN 0 TN 4 FP 0 → 45;  classes 1 and 2: TP 1 FN 1 TN 3 FP 1 → 1.5/1.5 · 3.5/1.5 = 7/3
        expected = DP_SCALE * np.mean(np.log10([45, 7 / 3, 7 / 3]))
        assert classification.report(truth, _probabilities(said, 3, rng))["discriminant_power"] == pytest.approx(expected)


def test_uncorrected_discriminant_power_infinities_without_warnings(rng):
    labels = np.array([0, 0, 1, 1])

    def dp(predictions, truth=labels, n_classes=2):
        return classification.report(truth, _probabilities(predictions, n_classes, rng), dp_correction=None)["discriminant_power"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        perfect = classification.report(labels, _probabilities(labels, 2, rng), dp_correction=None)
        assert perfect["sensitivity"] == perfect["specificity"] == 1.0 and perfect["youden"] == 1.0
        assert perfect["discriminant_power"] == np.inf
        # sens 1, spec 0.5 → +inf;  sens 0.5, spec 0 → −inf;  sens 1, spec 0 (all said positive) → NaN
        assert dp(np.array([1, 0, 1, 1])) == np.inf
        assert dp(np.array([1, 1, 0, 1])) == -np.inf
        assert np.isnan(dp(np.ones(4, int)))
        assert classification.discriminant_power(3, 0, 7, 3, correction=None) == np.inf
        assert classification.discriminant_power(0, 3, 7, 3, correction=None) == -np.inf
        assert classification.discriminant_power(3, 3, 7, 7, correction=None) == 0.0
        # multi-class: a perfect classifier has DP = +inf for every class, so the macro mean is +inf
        three = np.array([0, 1, 2, 0, 1, 2])
        assert dp(three, three, 3) == np.inf


def test_undefined_rates_give_nan_discriminant_power_either_way(rng):
    # a positive class absent from the labels: sensitivity (and J, DP) undefined → NaN
    for correction in (classification.HALDANE_ANSCOMBE, None):
        missing = classification.report(np.zeros(4, int), _probabilities(np.array([0, 1, 0, 0]), 2, rng), correction)
        assert np.isnan(missing["sensitivity"]) and np.isnan(missing["youden"]) and np.isnan(missing["discriminant_power"])
        assert missing["specificity"] == 0.75
    assert np.isnan(classification.discriminant_power(0, 0, 5, 1))


def test_report_table_fills_the_discriminant_power_interval_at_a_perfect_rate(rng):
    # Four classes, 40 images; class 0 is never missed nor given to another image (sensitivity and
    # specificity 1), the others are confused now and then: uncorrected, DP and its interval were inf / NaN.
    labels = np.repeat(np.arange(4), 10)
    predictions = labels.copy()
    predictions[[10, 21, 32, 33]] = [2, 3, 1, 2]
    frame = predictions_frame(np.arange(40), labels, _probabilities(predictions, 4, rng))
    row = tables.report_columns(frame, stats.BootstrapSettings(200, 0.95), 0, ("tiny", "r18"))
    for metric in tables.REPORT_METRICS:
        assert np.isfinite([row[metric], row[f"{metric}_low"], row[f"{metric}_high"]]).all(), metric
        assert row[f"{metric}_low"] <= row[metric] <= row[f"{metric}_high"], metric


def test_report_checks_its_inputs():
    with pytest.raises(ValueError, match="probabilities must be"):
        classification.report(np.array([0, 1]), np.array([0.2, 0.8]))
    with pytest.raises(ValueError, match="labels must be integer"):
        classification.report(np.array([0, 1, 1]), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="labels must lie in"):
        classification.report(np.array([0, 2]), np.full((2, 2), 0.5))
