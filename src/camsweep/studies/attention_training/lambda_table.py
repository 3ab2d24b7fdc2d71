"""The attention-training study's table: each classifier's λ (the cross-entropy weight of
L = λ·CE + (1 − λ)·L_att) beside its classification report and the published values."""

from __future__ import annotations

import numpy as np
import pandas as pd


# The study's published numbers (NIH ChestX-ray14, effusion vs no finding, PVT-v2-b2-li): cross-entropy and adaptive λ.
PUBLISHED = {
    "1": {"accuracy": 0.817, "roc_auc": 0.884, "youden": 0.634, "discriminant_power": 0.747},
    "adaptive": {"accuracy": 0.855, "roc_auc": 0.909, "youden": 0.709, "discriminant_power": 0.871},
}
PUBLISHED_NETWORK = "timm/pvt_v2_b2_li"  # the network the published numbers come from
METRICS = ("accuracy", "roc_auc", "youden", "discriminant_power")


def lambda_table(classifiers: pd.DataFrame, ce_weights: dict[str, str], architectures: dict[str, str]) -> pd.DataFrame:
    """The study's table: one row per classifier of the main study with its architecture, its λ
    (``ce_weights``: model → "1" for cross-entropy only, a number, or "adaptive"), accuracy, ROC-AUC, Youden's J
    and DP with CIs, and the published values beside the λ = 1 and adaptive rows of the study's network
    (:data:`PUBLISHED_NETWORK`, any pretrained tag; like for like — NaN beside other networks and λ, whose
    numbers they do not describe; a different dataset all the same)."""
    main = classifiers[(classifiers["study"] == "main") & classifiers["model"].isin(list(ce_weights))]
    rows = []
    for record in main.to_dict("records"):
        weight, architecture = ce_weights[record["model"]], architectures[record["model"]]
        row = {"dataset": record["dataset"], "model": record["model"], "architecture": architecture,
               "lambda": weight, "n": record["n"]}
        published = PUBLISHED.get(weight, {}) if architecture.partition(".")[0] == PUBLISHED_NETWORK else {}
        for metric in METRICS:
            row |= {metric: record[metric], f"{metric}_low": record[f"{metric}_low"],
                    f"{metric}_high": record[f"{metric}_high"], f"{metric}_published": published.get(metric, np.nan)}
        rows.append(row)
    return pd.DataFrame(rows)
