"""Metric reliability (camsweep.reliability): the effect size by hand, the table on a small frame."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from camsweep import reliability, stats


def test_rank_biserial_by_hand():
    # |d| = 3, 1, 2 after the zero is dropped: ranks 3, 1, 2; R+ = 3 + 2, R− = 1 → (5 − 1) / 6.
    assert reliability.rank_biserial(np.array([3.0, -1.0, 2.0, 0.0])) == pytest.approx(2 / 3)
    # Ties take average ranks: |d| = 1, 1, 2 → 1.5, 1.5, 3; R+ = 4.5, R− = 1.5 → 0.5.
    assert reliability.rank_biserial(np.array([1.0, -1.0, 2.0])) == pytest.approx(0.5)
    assert reliability.rank_biserial(np.zeros(4)) == 0.0  # nothing to tell apart
    assert reliability.rank_biserial(np.array([0.5, 0.1, 2.0])) == 1.0
    batch = reliability.rank_biserial(np.array([[3.0, -1.0, 2.0, 0.0], [-1.0, -2.0, 0.0, 0.0]]))
    np.testing.assert_allclose(batch, [2 / 3, -1.0])  # vectorised over resamples


def test_resampled_rank_biserial_equals_ranking_each_resample():
    rng = np.random.default_rng(1)
    differences = rng.integers(-3, 4, 40) / 4  # ties and zeros
    index = rng.integers(0, 40, (50, 40))
    fast = reliability._resampled_rank_biserial(differences)
    np.testing.assert_allclose(fast(index), reliability.rank_biserial(differences[index]), rtol=0, atol=1e-12)
    assert fast(np.arange(40)) == pytest.approx(reliability.rank_biserial(differences), abs=1e-12)


def test_spearman_matches_scipy():
    rng = np.random.default_rng(0)
    x, y = rng.random(30), rng.random(30).round(1)  # ties in y
    assert reliability.spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    assert np.isnan(reliability.spearman(x, np.ones(30)))


def _frame(method, values, perturbation="none", severity=0):
    ids = [f"i{k}" for k in range(len(values["energy_pg_mask"]))]
    return pd.DataFrame({"dataset": "d", "model": "m", "method": method, "layer": "l", "perturbation": perturbation,
                         "severity": severity, "id": ids, **values})


def test_table_on_a_small_frame():
    def eighths(*values):
        return [v / 8 for v in values]  # exact in binary: ties stay ties
    trained = {"energy_pg_mask": eighths(7, 6, 5, 4, 3, 2), "energy_pg_box": eighths(8, 5, 6, 3, 4, 1),
               "le_mask": eighths(1, 2, 3, 4, 5, 6)}
    random = {"energy_pg_mask": eighths(4, 4, 4, 5, 2, 2), "energy_pg_box": eighths(4, 4, 4, 4, 4, 4),
              "le_mask": eighths(4, 1, 4, 4, 4, 4)}
    noisy = {"energy_pg_mask": eighths(5, 6, 7, 3, 4, 1), "energy_pg_box": eighths(5, 5, 5, 5, 5, 5),
             "le_mask": eighths(2, 2, 2, 2, 2, 2)}
    scores = pd.concat([_frame("gradcam", trained), _frame("random", random),
                        _frame("gradcam", noisy, "gaussian_noise", 3)], ignore_index=True)
    randomised = _frame("gradcam", {"energy_pg_mask": eighths(4, 7, 4, 5, 1, 2), "energy_pg_box": eighths(4, 4, 4, 4, 4, 4),
                                    "le_mask": eighths(2, 2, 2, 2, 2, 2)}).drop(columns=["perturbation", "severity"])
    table = reliability.reliability_table(scores, randomised, ["energy_pg_mask", "le_mask"], ["random"],
                                          stats.BootstrapSettings(200), seed=0)
    assert list(table["metric"]) == ["energy_pg_mask", "le_mask"]  # the method's rows only, not the baseline's
    epg = table.iloc[0]
    # vs random, in eighths: d = 3, 2, 1, −1, 1, 0 → |d| ranks 5, 4, 2, 2, 2 → R+ = 13, R− = 2 → 11/15.
    assert epg["separation_random"] == pytest.approx(11 / 15)
    assert epg["n_random"] == 6
    # vs randomised: d = 3, −1, 1, −1, 2, 0 → ranks 5, 2, 2, 2, 4 → R+ = 11, R− = 4 → 7/15.
    assert epg["separation_randomised"] == pytest.approx(7 / 15)
    assert epg["separation_random_low"] <= epg["separation_random"] <= epg["separation_random_high"]
    assert epg["box_mask_pair"] == "energy_pg"
    expected = scipy_stats.spearmanr(trained["energy_pg_box"], trained["energy_pg_mask"]).statistic
    assert epg["box_mask_rank_correlation"] == pytest.approx(expected)
    severity = scipy_stats.spearmanr(trained["energy_pg_mask"], noisy["energy_pg_mask"]).statistic
    assert epg["severity_rank_correlation"] == pytest.approx(severity)
    assert epg["severity_worst"] == "gaussian_noise/3"
    le = table.iloc[1]
    # Lower is better, so d = random − trained = 3, −1, 1, 0, −1, −2 → ranks 5, 2, 2, 2, 4 → (7 − 8) / 15.
    assert le["separation_random"] == pytest.approx(-1 / 15)
    assert le["box_mask_pair"] == "le" and np.isnan(le["box_mask_rank_correlation"])  # le_box not scored here
    assert np.isnan(le["severity_rank_correlation"])  # constant under noise: no ranking
