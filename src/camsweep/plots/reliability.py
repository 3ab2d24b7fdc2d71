"""How far each metric can be trusted: separation effect sizes, box–mask agreement and severity stability
per metric (rows of tables metric_reliability.csv, see camsweep.reliability)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from camsweep.plots import method_order

COMPARISON_COLOURS = {"randomised": "black", "random": "tab:red", "centre": "tab:blue", "uniform": "tab:gray"}
AGREEMENT = {"box_mask_rank_correlation": ("box vs mask", "tab:orange"),
             "severity_rank_correlation": ("clean vs perturbed (mean)", "tab:green")}


def reliability_panels(table: pd.DataFrame, layer: str, title: str, baselines: Sequence[str] = ()) -> plt.Figure:
    """``table``: one dataset's and model's rows. Columns of panels = methods at ``layer``; top row: each
    metric's separation (rank-biserial r with CI) from the randomised model's maps and from each baseline;
    bottom row: box–mask and clean–perturbed rank correlations."""
    rows = table[table["layer"] == layer]
    methods = method_order(rows["method"].unique(), baselines)
    comparisons = [name for name in ("randomised", *baselines) if f"separation_{name}" in rows]
    metrics = list(dict.fromkeys(rows["metric"]))
    height = 0.28 * max(len(metrics), 4) + 1.2
    figure, axes = plt.subplots(2, max(1, len(methods)), figsize=(4.2 * max(1, len(methods)), 2 * height),
                                sharey=True, squeeze=False, layout="constrained")
    positions = np.arange(len(metrics))[::-1]
    for column, method in enumerate(methods):
        group = rows[rows["method"] == method].set_index("metric").reindex(metrics)
        top, bottom = axes[0, column], axes[1, column]
        offsets = np.linspace(-0.3, 0.3, max(len(comparisons), 1))
        for offset, name in zip(offsets, comparisons, strict=False):
            values = group[f"separation_{name}"].to_numpy(float)
            errors = np.abs(np.stack([values - group[f"separation_{name}_low"], group[f"separation_{name}_high"] - values]))
            top.errorbar(values, positions + offset, xerr=errors, fmt="o", markersize=3, capsize=2, linewidth=0.8,
                         color=COMPARISON_COLOURS.get(name, None), label=f"vs {name}")
        top.axvline(0, color="0.6", linewidth=0.8)
        top.set_xlim(-1.05, 1.05)
        top.set_title(f"{method} · {layer}", fontsize=9)
        top.set_xlabel("separation r (> 0: trained map scores better)", fontsize=8)
        for offset, (key, (label, colour)) in zip((-0.15, 0.15), AGREEMENT.items(), strict=True):
            values = group[key].to_numpy(float)
            bottom.plot(values, positions + offset, "o", markersize=3, color=colour, label=label)
        low, high = group["box_mask_rank_correlation_low"], group["box_mask_rank_correlation_high"]
        values = group["box_mask_rank_correlation"].to_numpy(float)
        bottom.errorbar(values, positions - 0.15, xerr=np.abs(np.stack([values - low, high - values])), fmt="none",
                        capsize=2, linewidth=0.8, color=AGREEMENT["box_mask_rank_correlation"][1])
        bottom.axvline(0, color="0.6", linewidth=0.8)
        bottom.set_xlim(-1.05, 1.05)
        bottom.set_xlabel("Spearman ρ across images", fontsize=8)
        for axis in (top, bottom):
            axis.set_yticks(positions, metrics, fontsize=7)
            axis.grid(axis="x", alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="lower left")
    axes[1, 0].legend(fontsize=7, loc="lower left")
    figure.suptitle(title)
    return figure
