"""The segmentation-ablation study's figures: example panels of a segmenter's CAM and the occlusion-study curves.

* :func:`map_panels` — one row per example: input, ground truth, prediction, the raw map at layer
  resolution (nearest-neighbour display, so the layer's grid shows), the map resized to image size and the
  jet overlay at α = 0.5. Every map is min-max normalised per image and drawn on a shared 0–1 jet scale
  (one colourbar). "Resized and smoothed" is the segmentation-ablation study's name for the bilinear resize
  (:func:`camsweep.maps.upsample`, then normalise); ``smooth_sigma`` > 0 adds a Gaussian blur of that
  many image pixels after the resize (off by default, so the panel is exactly the segmentation-ablation study's display step). The
  overlay blends that same resized map: :func:`camsweep.plots.examples.overlay`.
* :func:`occlusion_curves` — one panel per metric (Dice, IoU, map RMSE, remaining-foreground EPG), a line
  with its confidence band for foreground and one for background occlusion against the occluded fraction.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import cm, colors

from camsweep import maps as saliency_maps
from camsweep.plots.examples import overlay

CURVE_METRICS = ("dice", "iou", "map_rmse", "epg_remaining")
METRIC_LABELS = {
    "dice": "Dice (prediction vs GT)",
    "iou": "IoU (prediction vs GT)",
    "map_rmse": "map RMSE to unoccluded (0–255)",
    "epg_remaining": "energy in remaining foreground",
}
OCCLUDED_STYLES = {"foreground": ("tab:red", "o"), "background": ("tab:blue", "s")}
PANEL_TITLES = ("input", "ground truth", "prediction", "raw map ({h}×{w})", "resized & smoothed (bilinear)", "overlay (α = 0.5)")


def resized_map(raw_map: np.ndarray, size: tuple[int, int], smooth_sigma: float = 0.0) -> np.ndarray:
    """A raw map (h, w) bilinearly resized to ``size``, optionally Gaussian-blurred, normalised to [0, 1]."""
    resized = saliency_maps.upsample(np.asarray(raw_map, dtype=np.float32)[None], size)[0]
    if smooth_sigma > 0:
        resized = cv2.GaussianBlur(resized, (0, 0), sigmaX=smooth_sigma, sigmaY=smooth_sigma, borderType=cv2.BORDER_REFLECT)
    return saliency_maps.normalise(resized)


def _bare(axis: plt.Axes) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def map_panels(
    images: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    raw_maps: np.ndarray,
    titles: Sequence[str] | None = None,
    method: str = "ablationcam",
    layer: str = "encoder4",
    smooth_sigma: float = 0.0,
) -> plt.Figure:
    """K rows × 6 columns (see the module docstring) and one colourbar: 6K + 1 axes.

    ``images`` uint8 (K, H, W, 3); ``truth`` and ``predicted`` bool (K, H, W); ``raw_maps`` (K, h, w) at
    the layer's resolution, before normalisation; ``titles`` label the rows (e.g. image ids).
    """
    images, truth, predicted = np.asarray(images), np.asarray(truth), np.asarray(predicted)
    raw_maps = np.asarray(raw_maps, dtype=np.float64)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or not len(images):
        raise ValueError(f"images must be uint8 (K, H, W, 3) with K ≥ 1, got {images.dtype} {images.shape}")
    count, height, width = images.shape[:3]
    for name, mask in (("truth", truth), ("predicted", predicted)):
        if mask.dtype != bool or mask.shape != (count, height, width):
            raise ValueError(f"{name} masks must be bool {(count, height, width)}, got {mask.dtype} {mask.shape}")
    if raw_maps.ndim != 3 or len(raw_maps) != count:
        raise ValueError(f"raw maps must be ({count}, h, w), got {raw_maps.shape}")
    if not np.isfinite(raw_maps).all():
        raise ValueError("raw maps contain NaN or inf")
    titles = [str(t) for t in titles] if titles is not None else [f"example {k}" for k in range(count)]
    if len(titles) != count:
        raise ValueError(f"got {len(titles)} titles for {count} examples")

    h, w = raw_maps.shape[1:]
    norm = colors.Normalize(vmin=0.0, vmax=1.0)
    figure, axes = plt.subplots(count, 6, figsize=(11.5, 2.0 * count + 0.5), squeeze=False, layout="constrained")
    for row in range(count):
        resized = resized_map(raw_maps[row], (height, width), smooth_sigma)
        panels = (
            (images[row], {}),
            (truth[row], {"cmap": "gray", "vmin": 0, "vmax": 1}),
            (predicted[row], {"cmap": "gray", "vmin": 0, "vmax": 1}),
            (saliency_maps.normalise(raw_maps[row]), {"cmap": "jet", "norm": norm}),
            (resized, {"cmap": "jet", "norm": norm}),
            (overlay(images[row], resized, alpha=0.5), {}),
        )
        for column, (picture, style) in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(picture, interpolation="nearest", **style)
            _bare(axis)
            if row == 0:
                axis.set_title(PANEL_TITLES[column].format(h=h, w=w), fontsize=8)
        axes[row, 0].set_ylabel(titles[row], fontsize=8)
    colourbar = figure.colorbar(cm.ScalarMappable(norm=norm, cmap="jet"), ax=axes[:, 3:], shrink=0.8, aspect=30)
    colourbar.set_label("normalised map", fontsize=8)
    colourbar.ax.tick_params(labelsize=7)
    smoothing = f", Gaussian σ = {smooth_sigma:g} px" if smooth_sigma > 0 else ""
    figure.suptitle(f"{method} at {layer} (bilinear resize{smoothing})", fontsize=9)
    return figure


def occlusion_curves(table: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """One panel per metric of :data:`CURVE_METRICS` (then any other metric in ``table``): mean and CI band
    against the occluded fraction, a line for foreground and one for background occlusion.

    ``table`` has columns occluded, fraction, metric, mean, ci_low, ci_high (e.g.
    :func:`.tables.occlusion_table`). A metric without rows, or with no finite mean, gets a panel
    that says "not computed".
    """
    required = ["occluded", "fraction", "metric", "mean", "ci_low", "ci_high"]
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise ValueError(f"occlusion table lacks columns {missing}")
    present = set(table["metric"].unique())
    metrics = [*CURVE_METRICS, *sorted(str(m) for m in present - set(CURVE_METRICS))]
    figure, axes = plt.subplots(
        1, len(metrics), figsize=(3.0 * len(metrics), 2.8), squeeze=False, sharex=True, layout="constrained"
    )
    for axis, metric in zip(axes[0], metrics, strict=True):
        rows = table[table["metric"] == metric]
        axis.set_title(METRIC_LABELS.get(metric, metric), fontsize=9)
        axis.set_xlabel("occluded fraction")
        axis.grid(alpha=0.3)
        if rows.empty or not np.isfinite(rows["mean"].to_numpy(float)).any():
            axis.text(0.5, 0.5, "not computed", ha="center", va="center", transform=axis.transAxes, color="0.4")
            continue
        occluded_kinds = [k for k in OCCLUDED_STYLES if k in set(rows["occluded"])]
        occluded_kinds += sorted(set(rows["occluded"]) - set(OCCLUDED_STYLES))
        for occluded in occluded_kinds:
            part = rows[rows["occluded"] == occluded].sort_values("fraction", kind="stable")
            colour, marker = OCCLUDED_STYLES.get(occluded, (None, "^"))
            line, = axis.plot(part["fraction"], part["mean"], marker=marker, markersize=3, color=colour, label=occluded)
            axis.fill_between(
                part["fraction"].to_numpy(float), part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float),
                color=line.get_color(), alpha=0.15, linewidth=0,
            )
        if metric in ("dice", "iou", "epg_remaining"):
            axis.set_ylim(-0.02, 1.02)
        axis.legend(fontsize=7, title="occluded", title_fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure
