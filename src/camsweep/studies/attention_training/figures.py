"""Shortcut demonstration: accuracy and where the map lies, per training and test marker; and both
trainings' maps on the same shuffled-marker images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from camsweep.data import ImageSet
from camsweep.plots.examples import overlay

PANELS = (("accuracy", "accuracy"), ("roc_auc", "ROC-AUC"), ("energy_pg_mask", "mask EPG (MEPG)"))
LABELS = {"ce": "cross-entropy", "attention": "attention loss"}


def example_rows(labels: np.ndarray) -> list[int]:
    """The first image of each class present in ``labels``, in class order: the figure's map rows."""
    return [int(np.flatnonzero(labels == label)[0]) for label in np.unique(labels)]


def _metric_panels(figure, table: pd.DataFrame) -> None:
    markers = list(dict.fromkeys(table["marker"]))
    trainings = list(dict.fromkeys(table["training"]))
    axes = figure.subplots(1, len(PANELS))
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


def _map_grid(figure, split: ImageSet, maps: Mapping[str, np.ndarray], predictions: Mapping[str, np.ndarray],
              rows: Sequence[int]) -> None:
    axes = figure.subplots(len(rows), 1 + len(maps), squeeze=False)
    names = split.class_names
    for axes_row, index in zip(axes, rows, strict=True):
        panels = [(split.images[index] / 255.0, f"{split.ids[index]}: {names[split.labels[index]]}")]
        panels += [(overlay(split.images[index], maps[training][index]),
                    f"{LABELS.get(training, training)}: says {names[predictions[training][index]]}") for training in maps]
        for axis, (picture, title) in zip(axes_row, panels, strict=True):
            axis.imshow(picture, interpolation="nearest")
            if split.masks is not None:
                axis.contour(split.masks[index], levels=[0.5], colors="white", linewidths=0.6)
            axis.set_title(title, fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])


def shortcut_figure(
    table: pd.DataFrame, split: ImageSet, maps: Mapping[str, np.ndarray], predictions: Mapping[str, np.ndarray],
    title: str, maps_title: str,
) -> plt.Figure:
    """Top: one panel per metric of :data:`PANELS`, ``table`` (rows of
    :func:`camsweep.studies.attention_training.shortcut.shortcut_table` for one dataset and model) with the test
    markers on the x axis and one series per training with its interval. Below: the shuffled-marker test
    images ``split`` (the first of each class, :func:`example_rows`), each beside every training's map
    (``maps``: training → (N, h, w) over the same images, overlaid; ``predictions``: training → (N,) classes),
    the object's mask outlined in white."""
    rows = example_rows(split.labels)
    figure = plt.figure(figsize=(4 * len(PANELS), 3.6 + 3.2 * len(rows)), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[3.6, 3.2 * len(rows)])
    _metric_panels(top, table)
    _map_grid(bottom, split, maps, predictions, rows)
    bottom.suptitle(maps_title, fontsize=9)
    figure.suptitle(title)
    return figure
