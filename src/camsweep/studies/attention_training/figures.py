"""Shortcut demonstration: accuracy and where the map lies, per training and test marker."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

PANELS = (("accuracy", "accuracy"), ("roc_auc", "ROC-AUC"), ("energy_pg_mask", "mask EPG (MEPG)"))
LABELS = {"ce": "cross-entropy", "attention": "attention loss"}


def shortcut_panels(table: pd.DataFrame, title: str) -> plt.Figure:
    """``table``: rows of :func:`camsweep.tables.shortcut_table` for one dataset and model. One panel per
    metric, the test markers on the x axis, one series per training with its 95 % bootstrap interval."""
    markers = list(dict.fromkeys(table["marker"]))
    trainings = list(dict.fromkeys(table["training"]))
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.6), layout="constrained")
    x = np.arange(len(markers))
    for axis, (metric, label) in zip(axes, PANELS, strict=True):
        for offset, training in zip(np.linspace(-0.12, 0.12, len(trainings)), trainings, strict=True):
            rows = table[table["training"] == training].set_index("marker").loc[markers]
            # A NaN interval (e.g. an undefined bootstrap) draws the point without bars.
            low = np.nan_to_num(rows[metric] - rows[f"{metric}_low"], nan=0.0)
            high = np.nan_to_num(rows[f"{metric}_high"] - rows[metric], nan=0.0)
            axis.errorbar(x + offset, rows[metric], yerr=[low, high], fmt="-o", capsize=3, markersize=5,
                          label=LABELS.get(training, training))
        axis.set_xticks(x, [f"marker\n{marker}" for marker in markers])
        axis.set(ylabel=label, title=label, ylim=(0, 1.02))
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(title)
    return figure
