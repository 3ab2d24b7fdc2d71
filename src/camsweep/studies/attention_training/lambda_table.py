"""The attention-training study's table: each classifier's λ (the cross-entropy weight of
L = λ·CE + (1 − λ)·L_att) beside its classification report and the published values."""

from __future__ import annotations

import numpy as np
import pandas as pd


# The study's published numbers (NIH ChestX-ray14, effusion vs no finding, PVT-v2): cross-entropy and adaptive λ.
PUBLISHED = {
    "1": {"accuracy": 0.817, "roc_auc": 0.884, "youden": 0.634, "discriminant_power": 0.747},
    "adaptive": {"accuracy": 0.855, "roc_auc": 0.909, "youden": 0.709, "discriminant_power": 0.871},
}
METRICS = ("accuracy", "roc_auc", "youden", "discriminant_power")


def lambda_table(classifiers: pd.DataFrame, ce_weights: dict[str, str]) -> pd.DataFrame:
    """The study's table: one row per classifier of the main study with its λ (``ce_weights``: model → "1" for
    cross-entropy only, a number, or "adaptive"), accuracy, ROC-AUC, Youden's J and DP with CIs, and the
    published values beside the λ = 1 and adaptive rows (a different dataset and backbone: for orientation)."""
    main = classifiers[(classifiers["study"] == "main") & classifiers["model"].isin(list(ce_weights))]
    rows = []
    for record in main.to_dict("records"):
        weight = ce_weights[record["model"]]
        row = {"dataset": record["dataset"], "model": record["model"], "lambda": weight, "n": record["n"]}
        published = PUBLISHED.get(weight, {})
        for metric in METRICS:
            row |= {metric: record[metric], f"{metric}_low": record[f"{metric}_low"],
                    f"{metric}_high": record[f"{metric}_high"], f"{metric}_published": published.get(metric, np.nan)}
        rows.append(row)
    return pd.DataFrame(rows)
