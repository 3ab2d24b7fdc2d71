"""Explanation stability: CAM RMSE to the clean map against severity, per perturbation and layer."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from camsweep.plots import method_order, method_title

from camsweep.perturb import CLEAN


def rmse_vs_severity(table: pd.DataFrame, layers: list[str], title: str, baselines: Sequence[str] = ()) -> plt.Figure:
    """``table``: cam_rmse rows of tables.cam_metric_table for one dataset and model.
    Rows of panels = CAM methods, columns = perturbations, one line per layer."""
    methods = method_order(table["method"].unique(), baselines)
    perturbations = sorted(p for p in table["perturbation"].unique() if p != CLEAN[0])
    figure, axes = plt.subplots(
        len(methods), max(1, len(perturbations)), figsize=(3.2 * max(1, len(perturbations)), 2.8 * len(methods)),
        sharex=True, sharey=True, squeeze=False, layout="constrained",
    )
    for row, method in enumerate(methods):
        for column, perturbation in enumerate(perturbations):
            axis = axes[row, column]
            for layer in layers:
                rows = table[(table["method"] == method) & (table["layer"] == layer)
                             & table["perturbation"].isin([CLEAN[0], perturbation])].sort_values("severity")
                line, = axis.plot(rows["severity"], rows["mean"], "-o", markersize=3, label=layer)
                axis.fill_between(rows["severity"], rows["ci_low"], rows["ci_high"], color=line.get_color(), alpha=0.15)
            axis.set_title(f"{method_title(method, baselines)} · {perturbation}", fontsize=9)
            axis.grid(alpha=0.3)
            if row == len(methods) - 1:
                axis.set_xlabel("severity")
            if column == 0:
                axis.set_ylabel("RMSE to clean map (0–255)")
    axes[0, 0].legend(fontsize=7, title="layer", title_fontsize=7)
    figure.suptitle(title)
    return figure
