"""Training curves: loss and accuracy per epoch, train and validation."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def training_curves(history: pd.DataFrame, title: str) -> plt.Figure:
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for split, style in (("train", "-o"), ("val", "--s")):
        loss_axis.plot(history["epoch"], history[f"{split}_loss"], style, label=split, markersize=4)
        accuracy_axis.plot(history["epoch"], history[f"{split}_accuracy"], style, label=split, markersize=4)
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    return figure
