"""Box- versus mask-based localisation metrics on clean images, with bootstrap CIs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def box_vs_mask_bars(table: pd.DataFrame, layers: list[str], title: str) -> plt.Figure:
    """``table``: rows of tables.box_vs_mask_table for one dataset and model.
    Rows of panels = methods, columns = layers; per metric a box bar and a mask bar."""
    methods = sorted(table["method"].unique())
    figure, axes = plt.subplots(
        len(methods), len(layers), figsize=(3.6 * len(layers), 3.4 * len(methods)), sharey=True, squeeze=False,
        layout="constrained",
    )
    for row, method in enumerate(methods):
        for column, layer in enumerate(layers):
            axis = axes[row, column]
            rows = table[(table["method"] == method) & (table["layer"] == layer)]
            x = np.arange(len(rows))
            for offset, kind, colour in ((-0.2, "box", "tab:orange"), (0.2, "mask", "tab:blue")):
                values = rows[kind].to_numpy()
                errors = np.abs(np.stack([values - rows[f"{kind}_low"], rows[f"{kind}_high"] - values]))
                axis.bar(x + offset, values, width=0.4, yerr=errors, capsize=2, color=colour, label=kind)
            axis.set_xticks(x, rows["metric"], rotation=45, ha="right", fontsize=8)
            axis.set_title(f"{method} · {layer}", fontsize=9)
            axis.set_ylim(0, 1.05)
            axis.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    figure.suptitle(title)
    return figure
