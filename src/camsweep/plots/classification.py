"""Classification under perturbation: ROC-AUC and accuracy against severity, one line per perturbation."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from camsweep.perturb import CLEAN


def metric_vs_severity(table: pd.DataFrame, title: str) -> plt.Figure:
    """``table``: rows of tables.classification_table for one dataset and model."""
    clean = table[table["perturbation"] == CLEAN[0]]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True, layout="constrained")
    for axis, metric, label in zip(axes, ("roc_auc", "accuracy"), ("ROC-AUC", "accuracy"), strict=True):
        for perturbation, rows in table[table["perturbation"] != CLEAN[0]].groupby("perturbation", sort=True):
            rows = pd.concat([clean, rows]).sort_values("severity")
            line, = axis.plot(rows["severity"], rows[metric], "-o", markersize=4, label=perturbation)
            axis.fill_between(rows["severity"], rows[f"{metric}_low"], rows[f"{metric}_high"], color=line.get_color(), alpha=0.15)
        axis.set(xlabel="severity (0 = clean)", ylabel=label, title=f"{label} (95% bootstrap CI)")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(title)
    return figure
