"""Model-randomisation test (Adebayo et al. 2018, figure 2): similarity of trained and randomised maps as the
blocks are re-initialised from the top down."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from camsweep.plots import method_order, method_title

METRICS = (("rank_correlation", "rank correlation"), ("ssim", "SSIM"))


def randomisation_curves(
    table: pd.DataFrame, layers: Sequence[str], threshold: float, title: str, baselines: Sequence[str] = ()
) -> plt.Figure:
    """``table``: rows of tables.cascading_randomisation_table for one dataset and model. One row of panels
    per layer; columns: rank correlation then SSIM, each for the cascading and the independent variant. x: the
    block randomised at each step (top-down, step 0 first), one curve per method with its CI band; the
    pass/fail ``threshold`` dashed on the rank-correlation panels."""
    methods = method_order(table["method"].unique(), baselines)
    colours = {method: f"C{index}" for index, method in enumerate(methods)}  # the same in every panel
    variants = sorted(table["variant"].unique())  # cascading, independent
    blocks = table.drop_duplicates("step").sort_values("step")
    columns = [(metric, label, variant) for metric, label in METRICS for variant in variants]
    lowest = table[[f"{metric}_low" for metric, _ in METRICS]].min().min()  # NaN when nothing is defined
    figure, axes = plt.subplots(
        len(layers), len(columns), figsize=(3.4 * len(columns), 2.9 * len(layers) + 0.6), sharex=True, sharey=True,
        squeeze=False, layout="constrained",
    )
    for row, layer in enumerate(layers):
        for column, (metric, label, variant) in enumerate(columns):
            axis = axes[row, column]
            for method in methods:
                rows = table[(table["method"] == method) & (table["layer"] == layer)
                             & (table["variant"] == variant)].sort_values("step")
                if rows.empty:  # the method is configured for fewer layers (cams.layers)
                    continue
                axis.plot(rows["step"], rows[f"mean_{metric}"], ":o" if method in baselines else "-o", markersize=3,
                          color=colours[method], label=method_title(method, baselines))
                axis.fill_between(rows["step"], rows[f"{metric}_low"], rows[f"{metric}_high"], color=colours[method],
                                  alpha=0.15)
            if metric == "rank_correlation":
                axis.axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
            axis.set_title(f"{layer} · {label} · {variant}", fontsize=9)
            axis.set_xticks(blocks["step"], blocks["block"], rotation=45, ha="right", fontsize=7)
            axis.grid(alpha=0.3)
            if row == len(layers) - 1:
                axis.set_xlabel("block randomised (top-down)")
            if column == 0:
                axis.set_ylabel("trained vs randomised maps")
    axes[0, 0].set_ylim(-0.1 if pd.isna(lowest) else min(-0.1, lowest - 0.05), 1.05)
    # One legend for the figure, in method order: a layer's panels lack the methods computed at other layers only.
    handles = {}
    for axis in axes.flat:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    labels = [method_title(method, baselines) for method in methods] + [f"threshold {threshold:g}"]
    labels = [label for label in labels if label in handles]
    figure.legend([handles[label] for label in labels], labels, loc="outside right upper", fontsize=8)
    figure.suptitle(title)
    return figure
