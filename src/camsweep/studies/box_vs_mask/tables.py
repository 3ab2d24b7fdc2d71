"""The box-versus-mask study's Table 1: on clean images, each localisation metric as corrected here and as
the study's seed code computes it, side by side, with the published average beside the run of the study's
own network (like for like)."""

from __future__ import annotations

from collections.abc import Sequence

import math

import pandas as pd

from camsweep import tables

# The study's Table 1: name → (corrected metric, seed-compatible metric); published averages on 78 Pet images.
TABLE1 = {
    "LE": ("le_box", "le_box_seed"), "MLE": ("le_mask", "le_mask_seed"),
    "EPG": ("energy_pg_box", "energy_pg_box"), "MEPG": ("energy_pg_mask", "energy_pg_mask"),
    "F1": ("f1_box", "f1_box_seed"), "MF1": ("f1_mask", "f1_mask_seed"),
}
PUBLISHED = {"LE": 0.45, "MLE": 0.25, "EPG": 0.93, "MEPG": 0.76, "F1": 0.43, "MF1": 0.51}
# The network the published values come from: Keras Xception (ImageNet weights), which is timm's
# legacy_xception (the Keras weights ported, the same layers; Grad-CAM on its last activation, act4).
PUBLISHED_NETWORK = "timm/legacy_xception"


def is_published_network(architecture: str) -> bool:
    """Whether a configured architecture is the study's network (any pretrained tag of it)."""
    return architecture.partition(".")[0] == PUBLISHED_NETWORK


def table1(
    cam_table: pd.DataFrame, architectures: dict[str, str] | None = None, baselines: Sequence[str] = ()
) -> pd.DataFrame:
    """The study's Table 1 on clean images: each metric corrected and seed-compatible side by side.

    With ``architectures`` (model name → architecture, the config's; the workflow passes them) each row gets
    its model's ``architecture``, and the published value sits beside the rows of the study's network only
    (:data:`PUBLISHED_NETWORK`; like for like, and comparable only on the study's 78 Oxford-IIIT Pet images):
    NaN beside other networks, whose numbers it does not describe. Without, every row gets it, for orientation.
    Rows of the ``baselines`` (maps that know nothing) never get it: the study published a method's scores.
    """
    rows = tables.side_by_side(cam_table, TABLE1, ("corrected", "seed"))

    def published(row: dict, network: bool = True) -> float:
        return PUBLISHED[row["metric"]] if network and row["method"] not in baselines else math.nan

    if architectures is None:
        return pd.DataFrame([{**row, "published": published(row)} for row in rows])
    unknown = sorted({row["model"] for row in rows} - set(architectures))
    if unknown:
        raise ValueError(f"models {unknown} of the CAM table have no architecture in {sorted(architectures)}")
    return pd.DataFrame([
        {**row, "architecture": architectures[row["model"]],
         "published": published(row, is_published_network(architectures[row["model"]]))}
        for row in rows
    ])
