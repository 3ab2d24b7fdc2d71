"""Paired comparisons of CAM methods on the same images: Wilcoxon signed-rank tests with Holm's correction.

Input is a long per-image frame: one row per (image id, method, layer, condition) with metric columns.
For every (condition, layer, metric) and every pair of methods (``method_a`` < ``method_b`` in sorted
order; a method before the baseline it is compared with), the per-image differences
d = metric(method_a) − metric(method_b) are tested.

Conventions
-----------
* **Pairing.** Rows pair on the image id. An image whose metric is NaN for either method, or that one
  method lacks, is dropped from that comparison only. ``n`` counts the remaining pairs; ``n_nonzero``
  those with d ≠ 0. Two rows for one (id, method, layer, condition) raise ``ValueError``.
* **Wilcoxon test.** :func:`scipy.stats.wilcoxon` on d, two-sided, ``zero_method="wilcox"``: zero
  differences are discarded before ranking (Wilcoxon's original rule, SciPy's default), so the test
  runs on the ``n_nonzero`` pairs. The exact null distribution when at most 50 differences remain with
  no ties, else the tie-corrected normal approximation (no continuity correction); both deterministic.
  (SciPy's ``method="auto"`` would run an exhaustive permutation test for up to 13 tied pairs: ~300 ms
  per test, minutes for a table of thousands of tests, for a difference only in small tied samples.)
  ``statistic`` is SciPy's two-sided statistic, the smaller of the positive and negative rank sums.
* **Too few pairs.** With ``n < min_pairs`` (default 6) no test is run: statistic and p are NaN, the
  row is left out of its Holm family and is never significant. Six is the smallest n for which the exact
  two-sided test can reach p < 0.05 at all (2 / 2⁶ ≈ 0.031; with five pairs the minimum is 0.0625).
* **No difference.** With ``n ≥ min_pairs`` but every difference zero the test has nothing to rank;
  the row reports statistic 0 and p = 1 (no evidence of a difference) and counts in its family.
* **Baselines.** Maps that know nothing (``baselines``, e.g. ``random``, ``centre``) are compared with
  every method, the method as ``method_a`` (so a positive difference means the method scores higher than
  the baseline), ``versus_baseline`` True; baselines are not compared with each other.
* **Effect sizes.** ``median_difference`` and ``mean_difference`` over the ``n`` pairs (zeros included).
* **Holm family.** By default one family per condition: all method pairs × metrics × layers tested
  under one (perturbation, severity, …) setting. A claim such as "under blur at severity 3, method A
  localises better than B" is then protected against every comparison made for that condition.
  ``family_keys`` can narrow it (e.g. add ``"layer"``) or widen it (``()`` = everything one family).
* **Holm's step-down** (:func:`holm_adjust`): with the m finite p-values sorted, p₍₁₎ ≤ … ≤ p₍ₘ₎,
  adjusted p₍ᵢ₎ = maxⱼ≤ᵢ min(1, (m − j + 1) p₍ⱼ₎). The running maximum keeps adjusted values in the
  order of the raw ones; tied raw p-values get equal adjusted values. NaN p-values are not part of m.
* ``significant``: Holm-adjusted p < ``alpha`` (default 0.05); False where p is NaN.
* **Determinism.** Rows are sorted by condition keys, layer, metric, method_a, method_b (NaN keys last),
  and differences are taken in image-id order, so the same input, in any row order, gives the same
  frame and a byte-identical CSV.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

RESULT_COLUMNS = (
    "metric", "method_a", "method_b", "versus_baseline", "n", "n_nonzero", "median_difference", "mean_difference",
    "statistic", "p_value", "p_holm", "significant",
)


def holm_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, in input order; NaN stays NaN and is not counted in the family."""
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full(p_values.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p_values))
    if finite.size == 0:
        return adjusted
    if np.any((p_values[finite] < 0) | (p_values[finite] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    order = finite[np.argsort(p_values[finite], kind="stable")]
    multipliers = finite.size - np.arange(finite.size)  # m, m − 1, …, 1
    stepped = np.minimum(1.0, multipliers * p_values[order])
    adjusted[order] = np.maximum.accumulate(stepped)  # enforce monotonicity in the sorted order
    return adjusted


EXACT_MAX_PAIRS = 50  # SciPy's bound for its exact null distribution


def signed_rank_test(differences: np.ndarray, min_pairs: int = 6) -> dict[str, float]:
    """Wilcoxon signed-rank test of finite paired differences, with the module's degenerate-case rules."""
    differences = np.asarray(differences, dtype=float)
    n = differences.size
    nonzero = int(np.count_nonzero(differences))
    result = {
        "n": n, "n_nonzero": nonzero,
        "median_difference": float(np.median(differences)) if n else np.nan,
        "mean_difference": float(np.mean(differences)) if n else np.nan,
        "statistic": np.nan, "p_value": np.nan,
    }
    if n < min_pairs:
        return result
    if nonzero == 0:
        result.update(statistic=0.0, p_value=1.0)
        return result
    with warnings.catch_warnings():
        # SciPy warns that few non-zero differences make the approximation rough; p is still reported.
        warnings.simplefilter("ignore", UserWarning)
        kept = np.abs(differences[differences != 0])
        exact = kept.size <= EXACT_MAX_PAIRS and np.unique(kept).size == kept.size
        test = stats.wilcoxon(differences, zero_method="wilcox", alternative="two-sided",
                              method="exact" if exact else "approx")
    result.update(statistic=float(test.statistic), p_value=float(test.pvalue))
    return result


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")


def method_pairs(methods: Sequence[str], baselines: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The pairs compared: every two methods in sorted order, then every method against every baseline
    (method first); never two baselines."""
    real = sorted(m for m in methods if m not in baselines)
    present = sorted(b for b in methods if b in baselines)
    return [*combinations(real, 2), *((method, baseline) for method in real for baseline in present)]


def paired_comparisons(
    frame: pd.DataFrame,
    metrics: Sequence[str],
    condition_keys: Sequence[str] = ("perturbation", "severity"),
    *,
    id_column: str = "id",
    method_column: str = "method",
    layer_column: str = "layer",
    family_keys: Sequence[str] | None = None,
    min_pairs: int = 6,
    alpha: float = 0.05,
    baselines: Sequence[str] = (),
) -> pd.DataFrame:
    """Wilcoxon signed-rank test of every pair of methods, per condition, layer and metric.

    Returns one row per (condition keys…, layer, metric, method_a, method_b) with the columns of
    :data:`RESULT_COLUMNS` after the keys. ``family_keys`` (default: ``condition_keys``) are the columns
    that define one Holm family; they must be among the condition keys and the layer column.
    """
    condition_keys, metrics = list(condition_keys), list(metrics)
    group_keys = [*condition_keys, layer_column]
    family_keys = list(condition_keys if family_keys is None else family_keys)
    _check_columns(frame, [id_column, method_column, *group_keys, *metrics])
    if not set(family_keys) <= set(group_keys):
        raise ValueError(f"family_keys {family_keys} must be among {group_keys}")
    if min_pairs < 1:
        raise ValueError("min_pairs must be at least 1")
    duplicated = frame.duplicated([id_column, method_column, *group_keys])
    if duplicated.any():
        raise ValueError(f"{int(duplicated.sum())} rows repeat an (id, method, layer, condition); pairing is ambiguous")

    rows = []
    for key, group in frame.groupby(group_keys, sort=True, dropna=False):
        key_values = dict(zip(group_keys, key, strict=True))
        pairs = method_pairs(group[method_column].unique(), baselines)
        for metric in metrics:
            # Image × method table in id order; an image a method lacks becomes NaN and drops out.
            table = group.pivot(index=id_column, columns=method_column, values=metric).sort_index()
            for method_a, method_b in pairs:
                a = table[method_a].to_numpy(dtype=float)
                b = table[method_b].to_numpy(dtype=float)
                both = np.isfinite(a) & np.isfinite(b)
                test = signed_rank_test(a[both] - b[both], min_pairs)
                rows.append({**key_values, "metric": metric, "method_a": method_a, "method_b": method_b,
                             "versus_baseline": method_b in baselines, **test})

    columns = [*group_keys, *RESULT_COLUMNS]
    if not rows:
        return pd.DataFrame(columns=columns)
    result = pd.DataFrame(rows)
    result["p_holm"] = np.nan
    families = result.groupby(family_keys, sort=False, dropna=False).indices.values() if family_keys else [
        np.arange(len(result))]
    for index in families:
        result.loc[result.index[index], "p_holm"] = holm_adjust(result["p_value"].to_numpy()[index])
    result["significant"] = (result["p_holm"] < alpha).astype(bool)
    result = result.sort_values([*group_keys, "metric", "method_a", "method_b"], kind="stable", na_position="last")
    result["n"] = result["n"].astype(np.int64)
    result["n_nonzero"] = result["n_nonzero"].astype(np.int64)
    return result[columns].reset_index(drop=True)
