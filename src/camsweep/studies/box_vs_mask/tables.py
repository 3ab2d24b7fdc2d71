"""The box-versus-mask study's Table 1: on clean images, each localisation metric as corrected here and as
the study's seed code computes it, side by side, with the published average beside."""

from __future__ import annotations

import pandas as pd

from camsweep import tables

# The study's Table 1: name → (corrected metric, seed-compatible metric); published averages on 78 Pet images.
TABLE1 = {
    "LE": ("le_box", "le_box_seed"), "MLE": ("le_mask", "le_mask_seed"),
    "EPG": ("energy_pg_box", "energy_pg_box"), "MEPG": ("energy_pg_mask", "energy_pg_mask"),
    "F1": ("f1_box", "f1_box_seed"), "MF1": ("f1_mask", "f1_mask_seed"),
}
PUBLISHED = {"LE": 0.45, "MLE": 0.25, "EPG": 0.93, "MEPG": 0.76, "F1": 0.43, "MF1": 0.51}


def table1(cam_table: pd.DataFrame) -> pd.DataFrame:
    """The study's Table 1 on clean images: each metric corrected and seed-compatible side by side, with the
    published value (Xception on 78 Oxford-IIIT Pet images; comparable only on that data)."""
    rows = tables.side_by_side(cam_table, TABLE1, ("corrected", "seed"))
    return pd.DataFrame([{**row, "published": PUBLISHED[row["metric"]]} for row in rows])
