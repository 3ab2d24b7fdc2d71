"""The robustness study's figures: Grad-CAM++ RMSE to the clean map across layers, against ΔAUC, and with / without
train-time augmentation.

* :func:`rmse_vs_layer` — rows = severities, columns = perturbations; x = the robustness study's layers in order, one line
  (mean RMSE, CI band) per class.
* :func:`rmse_vs_delta_auc` — rows = severities, columns = layers (``transpose=True``: rows = layers,
  columns = severities); in each panel every perturbation's images scattered at x = that condition's ΔAUC
  (deterministically jittered) with a box plot of the same values at the same x.
* :func:`augmentation_comparison` — top row ΔAUC, bottom row mean RMSE (over layers and selected images)
  against severity, one column per perturbation, one line per model; severity 0 (clean) is 0 for both.

Inputs are the frames of :mod:`.analysis` for one dataset (and, but for the last, one model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from camsweep import seeding

RMSE_LABEL = "RMSE to clean map (0–255)"
DELTA_LABEL = "ΔAUC = AUC(clean) − AUC(perturbed)"
MODEL_STYLES = ("-o", "--s", ":^", "-.D")


def _colours(names: Sequence[object]) -> dict[object, tuple]:
    palette = plt.get_cmap("tab10")
    return {name: palette(i % 10) for i, name in enumerate(names)}


def _ordered_layers(table: pd.DataFrame, layers: Sequence[str] | None) -> list[str]:
    if layers is not None:
        return [str(layer) for layer in layers]
    ordered = table.drop_duplicates("layer").sort_values("layer_index", kind="stable") if "layer_index" in table else table
    return list(dict.fromkeys(ordered["layer"].astype(str)))


def _class_name(label: int, class_names: Sequence[str] | None) -> str:
    return str(class_names[label]) if class_names is not None and 0 <= label < len(class_names) else f"class {label}"


def _not_computed(axis: plt.Axes) -> None:
    axis.text(0.5, 0.5, "not computed", ha="center", va="center", transform=axis.transAxes, fontsize=8, color="0.5")


def rmse_vs_layer(
    table: pd.DataFrame, title: str, layers: Sequence[str] | None = None, class_names: Sequence[str] | None = None
) -> plt.Figure:
    """``table``: :func:`.analysis.rmse_table` rows of one dataset and model. Rows of panels = severities,
    columns = perturbations; severities × perturbations axes (the legend belongs to the figure)."""
    layers = _ordered_layers(table, layers)
    severities = sorted(int(s) for s in table["severity"].unique())
    perturbations = sorted(str(p) for p in table["perturbation"].unique())
    labels = sorted(int(label) for label in table["label"].unique())
    colours = _colours(labels)
    figure, axes = plt.subplots(
        len(severities), len(perturbations), figsize=(2.9 * len(perturbations) + 0.8, 2.3 * len(severities) + 0.9),
        sharex=True, sharey=True, squeeze=False, layout="constrained",
    )
    x = np.arange(len(layers))
    for row, severity in enumerate(severities):
        for column, perturbation in enumerate(perturbations):
            axis = axes[row, column]
            panel = table[(table["severity"] == severity) & (table["perturbation"] == perturbation)]
            if panel.empty:
                _not_computed(axis)
            for label in labels:
                rows = panel[panel["label"] == label].set_index("layer").reindex(layers)
                axis.plot(x, rows["mean"], "-o", markersize=3, color=colours[label])
                axis.fill_between(x, rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float),
                                  color=colours[label], alpha=0.15, linewidth=0)
            axis.grid(alpha=0.3)
            if row == 0:
                axis.set_title(perturbation, fontsize=9)
            if column == 0:
                axis.set_ylabel(f"severity {severity}\n{RMSE_LABEL}", fontsize=8)
            if row == len(severities) - 1:
                axis.set_xticks(x, layers, rotation=60, ha="right", fontsize=7)
    handles = [Line2D([], [], color=colours[label], marker="o", markersize=3, label=_class_name(label, class_names))
               for label in labels]
    figure.legend(handles=handles, loc="outside right upper", fontsize=8, title="class", title_fontsize=8)
    figure.suptitle(title, fontsize=10)
    return figure


def _scatter_and_box(
    axis: plt.Axes, panel: pd.DataFrame, perturbations: Sequence[str], colours: Mapping[object, tuple], width: float,
    jitter_keys: tuple,
) -> None:
    for perturbation in perturbations:
        rows = panel[panel["perturbation"] == perturbation]
        if rows.empty:
            continue
        x = float(rows["delta_auc"].iloc[0])
        if not np.isfinite(x):
            continue
        values = rows["cam_rmse"].to_numpy(float)
        # Fixed keys, not the config seed: the jitter is only for display and must be the same in every run.
        jitter = seeding.rng(0, "s2_jitter", perturbation, *jitter_keys).uniform(-0.35 * width, 0.35 * width, len(values))
        axis.scatter(x + jitter, values, s=5, color=colours[perturbation], alpha=0.6, linewidths=0, zorder=3)
        axis.boxplot(
            [values], positions=[x], widths=width, manage_ticks=False, showfliers=False, patch_artist=True,
            boxprops={"facecolor": (*colours[perturbation][:3], 0.25), "edgecolor": colours[perturbation]},
            medianprops={"color": colours[perturbation]}, whiskerprops={"color": colours[perturbation]},
            capprops={"color": colours[perturbation]},
        )


def rmse_vs_delta_auc(
    frame: pd.DataFrame, title: str, layers: Sequence[str] | None = None, transpose: bool = False
) -> plt.Figure:
    """``frame``: :func:`.analysis.rmse_frame` rows of one dataset and model. Rows of panels = severities and
    columns = layers, or (``transpose``) rows = layers and columns = severities; rows × columns axes."""
    layers = _ordered_layers(frame, layers)
    severities = sorted(int(s) for s in frame["severity"].unique())
    perturbations = sorted(str(p) for p in frame["perturbation"].unique())
    colours = _colours(perturbations)
    # Per severity (the panels sharing an x axis): the ΔAUC span shown, at least 0.05 so near-equal ΔAUCs do
    # not blow a box up to the panel's width; boxes 4 % of it wide.
    spans = {}
    for severity, rows in frame.groupby("severity"):
        deltas = rows["delta_auc"].to_numpy(float)
        deltas = deltas[np.isfinite(deltas)]
        low, high = (float(deltas.min()), float(deltas.max())) if len(deltas) else (0.0, 0.0)  # undefined ΔAUC: not drawn
        span = max(high - low, 0.05)
        spans[int(severity)] = ((low + high) / 2 - 0.6 * span, (low + high) / 2 + 0.6 * span, 0.04 * span)
    row_values, column_values = (layers, severities) if transpose else (severities, layers)
    figure, axes = plt.subplots(
        len(row_values), len(column_values), figsize=(2.4 * len(column_values) + 0.8, 2.1 * len(row_values) + 0.9),
        sharex="col" if transpose else "row", sharey=True, squeeze=False, layout="constrained",
    )
    for row, row_value in enumerate(row_values):
        for column, column_value in enumerate(column_values):
            layer, severity = (row_value, column_value) if transpose else (column_value, row_value)
            axis = axes[row, column]
            panel = frame[(frame["layer"] == layer) & (frame["severity"] == severity)]
            if panel.empty:
                _not_computed(axis)
            x_low, x_high, width = spans[severity]
            _scatter_and_box(axis, panel, perturbations, colours, width, (severity, layer))
            axis.set_xlim(x_low, x_high)
            axis.grid(alpha=0.3)
            axis.tick_params(labelsize=7)
            if row == 0:
                axis.set_title(f"severity {column_value}" if transpose else column_value, fontsize=8)
            if column == 0:
                axis.set_ylabel(f"{row_value}\n{RMSE_LABEL}" if transpose else f"severity {row_value}\n{RMSE_LABEL}", fontsize=7)
            if row == len(row_values) - 1:
                axis.set_xlabel("ΔAUC of the condition", fontsize=7)
    handles = [Patch(facecolor=(*colours[p][:3], 0.4), edgecolor=colours[p], label=p) for p in perturbations]
    figure.legend(handles=handles, loc="outside right upper", fontsize=8, title="perturbation", title_fontsize=8)
    figure.suptitle(title, fontsize=10)
    return figure


def augmentation_comparison(
    summary: pd.DataFrame, models: Sequence[str], title: str, labels: Mapping[str, str] | None = None
) -> plt.Figure:
    """``summary``: :func:`.analysis.severity_summary` rows of one dataset. Two rows (ΔAUC, mean RMSE over
    layers and selected images) × one column per perturbation; one line per model of ``models`` with its CI
    band, starting at severity 0 (clean: both 0). 2 × perturbations axes."""
    labels = dict(labels or {})
    perturbations = sorted(str(p) for p in summary["perturbation"].unique())
    figure, axes = plt.subplots(
        2, len(perturbations), figsize=(2.9 * len(perturbations) + 0.8, 5.2), sharex=True, sharey="row", squeeze=False,
        layout="constrained",
    )
    colours = _colours(list(models))
    panels = (("delta_auc", DELTA_LABEL), ("rmse", f"mean {RMSE_LABEL}\nover layers and images"))
    for row, (metric, ylabel) in enumerate(panels):
        for column, perturbation in enumerate(perturbations):
            axis = axes[row, column]
            for k, model in enumerate(models):
                rows = summary[(summary["model"] == model) & (summary["perturbation"] == perturbation)].sort_values("severity")
                if rows.empty:
                    continue
                severity = np.concatenate([[0], rows["severity"].to_numpy(int)])
                value, low, high = (np.concatenate([[0.0], rows[c].to_numpy(float)])
                                    for c in (metric, f"{metric}_low", f"{metric}_high"))
                axis.plot(severity, value, MODEL_STYLES[k % len(MODEL_STYLES)], markersize=3, color=colours[model])
                axis.fill_between(severity, low, high, color=colours[model], alpha=0.15, linewidth=0)
            axis.grid(alpha=0.3)
            axis.tick_params(labelsize=7)
            if row == 0:
                axis.set_title(perturbation, fontsize=9)
                axis.axhline(0.0, color="0.6", linewidth=0.6)
            else:
                axis.set_xlabel("severity (0 = clean)", fontsize=8)
            if column == 0:
                axis.set_ylabel(ylabel, fontsize=8)
    handles = [Line2D([], [], color=colours[model], linestyle=MODEL_STYLES[k % len(MODEL_STYLES)][:-1],
                      marker=MODEL_STYLES[k % len(MODEL_STYLES)][-1], markersize=3, label=labels.get(model, model))
               for k, model in enumerate(models)]
    figure.legend(handles=handles, loc="outside right upper", fontsize=8, title="model", title_fontsize=8)
    figure.suptitle(title, fontsize=10)
    return figure


def model_figures(
    images: pd.DataFrame, rmse: pd.DataFrame, dataset: str, model: str, method: str,
    class_names: Sequence[str] | None = None, source: str = "the study's tables",
) -> dict[str, plt.Figure]:
    """The per-(dataset, model) figures from the whole per-image frame and RMSE table: ``layers`` (RMSE vs
    layer per class), ``by_severity`` and ``by_layer`` (per-image RMSE against ΔAUC)."""
    images = images[(images["dataset"] == dataset) & (images["model"] == model)]
    rmse = rmse[(rmse["dataset"] == dataset) & (rmse["model"] == model)]
    if images.empty or rmse.empty:
        raise ValueError(f"{source}: no rows for dataset {dataset!r}, model {model!r}")
    name = f"{model} on {dataset}"
    return {
        "layers": rmse_vs_layer(rmse, f"{name}: {method} RMSE to the clean map per layer and class", class_names=class_names),
        "by_severity": rmse_vs_delta_auc(images, f"{name}: per-image RMSE against the condition's ΔAUC"),
        "by_layer": rmse_vs_delta_auc(images, f"{name}: per-image RMSE against ΔAUC, by layer", transpose=True),
    }


def model_labels(augmented: Mapping[str, bool]) -> dict[str, str]:
    """Legend labels of the augmentation figure: a model trained with train-time augmentation says so."""
    return {model: f"{model} (train-time augmentation)" if on else model for model, on in augmented.items()}


def augmentation_figure(
    summary: pd.DataFrame, dataset: str, augmented: Mapping[str, bool], source: str = "the summary table"
) -> plt.Figure:
    """ΔAUC and RMSE vs severity on ``dataset`` of the models of ``augmented`` (model → trained with
    train-time augmentation), in its order."""
    summary = summary[summary["dataset"] == dataset]
    compare = [str(m) for m in augmented]
    absent = sorted(set(compare) - set(summary["model"]))
    if absent:
        raise ValueError(f"{source}: no rows for model(s) {absent} on dataset {dataset!r}")
    title = f"{dataset}: with and without train-time augmentation"
    return augmentation_comparison(summary, compare, title, model_labels(augmented))
