"""Box- versus mask-based localisation metrics on clean images, with bootstrap CIs."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from camsweep.plots import method_order, method_title
from matplotlib.patches import Patch

COLOURS = {"box": "tab:orange", "mask": "tab:blue"}


def box_vs_mask_bars(table: pd.DataFrame, layers: list[str], title: str, baselines: Sequence[str] = ()) -> plt.Figure:
    """``table``: rows of tables.box_vs_mask_table for one dataset and model.
    Rows of panels = methods, columns = layers; per metric a box bar and a mask bar."""
    methods = method_order(table["method"].unique(), baselines)
    figure, axes = plt.subplots(
        len(methods), len(layers), figsize=(3.6 * len(layers), 3.4 * len(methods)), sharey=True, squeeze=False,
        layout="constrained",
    )
    for row, method in enumerate(methods):
        for column, layer in enumerate(layers):
            axis = axes[row, column]
            rows = table[(table["method"] == method) & (table["layer"] == layer)]
            axis.set_title(f"{method_title(method, baselines)} · {layer}", fontsize=9)
            axis.set_ylim(0, 1.05)
            if rows.empty:  # the method is configured for fewer layers (cams.layers)
                axis.text(0.5, 0.5, "not computed\nfor this layer", ha="center", va="center", transform=axis.transAxes,
                          fontsize=8, color="0.5")
                axis.set_xticks([])
                continue
            x = np.arange(len(rows))
            for offset, kind in ((-0.2, "box"), (0.2, "mask")):
                values = rows[kind].to_numpy()
                errors = np.abs(np.stack([values - rows[f"{kind}_low"], rows[f"{kind}_high"] - values]))
                axis.bar(x + offset, values, width=0.4, yerr=errors, capsize=2, color=COLOURS[kind])
            axis.set_xticks(x, rows["metric"], rotation=45, ha="right", fontsize=8)
            axis.grid(axis="y", alpha=0.3)
    handles = [Patch(color=colour, label=kind) for kind, colour in COLOURS.items()]
    figure.legend(handles=handles, loc="upper right", fontsize=8)
    figure.suptitle(title)
    return figure
