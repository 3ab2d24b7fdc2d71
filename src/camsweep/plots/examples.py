"""Example overlays: one test image's map under every perturbation and severity."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps

from camsweep import maps as saliency_maps
from camsweep.perturb import CLEAN


def overlay(image: np.ndarray, saliency: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Jet-coloured normalised map blended over a uint8 RGB image: (1 − α)·image + α·jet(map), float [0, 1]."""
    upsampled = saliency_maps.upsample(saliency[None], image.shape[:2])[0]
    heat = colormaps["jet"](saliency_maps.normalise(upsampled))[..., :3]
    return (1 - alpha) * image / 255.0 + alpha * heat


def example_grid(
    images: dict[tuple[str, int], np.ndarray],
    layer_maps: dict[tuple[str, int], np.ndarray],
    mask: np.ndarray | None,
    box: np.ndarray | None,
    title: str,
) -> plt.Figure:
    """Rows = severities (0 = clean), columns = perturbations; the GT mask outline in white, box in yellow."""
    perturbations = sorted({p for p, _ in images if p != CLEAN[0]}) or [CLEAN[0]]
    severities = sorted({s for _, s in images})
    figure, axes = plt.subplots(
        len(severities), len(perturbations), figsize=(1.9 * len(perturbations), 1.9 * len(severities)), squeeze=False
    )
    for row, severity in enumerate(severities):
        for column, perturbation in enumerate(perturbations):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            key = CLEAN if severity == 0 else (perturbation, severity)
            if key not in images:
                axis.set_axis_off()
                continue
            axis.imshow(overlay(images[key], layer_maps[key]), interpolation="nearest")
            if mask is not None:
                axis.contour(mask, levels=[0.5], colors="white", linewidths=0.6)
            if box is not None and box[0] >= 0:
                x0, y0, x1, y1 = box
                axis.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, ec="yellow", lw=0.8))
            if row == 0:
                axis.set_title(perturbation, fontsize=8)
            if column == 0:
                axis.set_ylabel(f"severity {severity}" if severity else "clean", fontsize=8)
    figure.suptitle(title, fontsize=9)
    return figure
