"""Aggregate tables: per-condition means with bootstrap confidence intervals.

Every interval's resampling generator is seeded from (seed, "aggregate", and the group's keys), so a
table does not depend on the order in which conditions are read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from camsweep import scoring, seeding, stats
from camsweep.predictions import probabilities_of
from camsweep.metrics import classification
from camsweep.perturb import CLEAN

# Box and mask variants of each localisation metric, for the box-versus-mask table.
BOX_MASK_PAIRS = {
    "iou": ("iou_box", "iou_mask"), "le": ("le_box", "le_mask"),
    "pointing_game": ("pointing_game_box", "pointing_game_mask"),
    "energy_pg": ("energy_pg_box", "energy_pg_mask"), "f1": ("f1_box", "f1_mask"),
    "soft_f": ("soft_f_box", "soft_f_mask"), "mae": ("mae_box", "mae"),
}
SCORE_COLUMNS = scoring.SCORE_COLUMNS


@dataclass(frozen=True)
class Condition:
    """A table's input: the keys of one artifact and its per-image frame."""

    keys: dict[str, object]
    frame: pd.DataFrame


def _sort_conditions(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    # Clean first, then perturbations alphabetically by severity; stable bytes whatever the input order.
    clean_first = (frame["perturbation"] != CLEAN[0]).astype(int)
    return (
        frame.assign(_clean_last=clean_first)
        .sort_values(["_clean_last", *by], kind="stable")
        .drop(columns="_clean_last")
        .reset_index(drop=True)
    )


def classification_table(conditions: list[Condition], settings: stats.BootstrapSettings, seed: int) -> pd.DataFrame:
    """Accuracy, ROC-AUC and ΔAUC = AUC(clean) − AUC(condition) per (dataset, model, perturbation, severity).

    Intervals: accuracy — bootstrap of the mean of per-image correctness; AUC — bootstrap of images;
    ΔAUC — paired bootstrap (the same resampled images for clean and perturbed).
    """
    rows = []
    by_model: dict[tuple, dict[tuple, pd.DataFrame]] = {}
    for condition in conditions:
        k = condition.keys
        by_model.setdefault((k["dataset"], k["model"]), {})[(k["perturbation"], int(k["severity"]))] = condition.frame
    for (dataset, model), frames in sorted(by_model.items()):
        if CLEAN not in frames:
            raise ValueError(f"no clean predictions for dataset {dataset!r}, model {model!r}")
        clean = frames[CLEAN]
        labels = clean["label"].to_numpy()
        clean_probs = probabilities_of(clean)
        for (perturbation, severity), frame in sorted(frames.items()):
            if not np.array_equal(frame["id"].to_numpy(), clean["id"].to_numpy()):
                raise ValueError(f"{dataset}/{model}/{perturbation}/{severity}: image ids differ from the clean ones")
            probs = probabilities_of(frame)
            keys = (dataset, model, perturbation, severity)
            accuracy = stats.mean_ci(frame["correct"].to_numpy(float), settings, seeding.rng(seed, "aggregate", *keys, "accuracy"))
            auc = stats.statistic_ci(classification.roc_auc, (labels, probs), settings, seeding.rng(seed, "aggregate", *keys, "roc_auc"))
            delta = stats.statistic_ci(
                lambda y, clean_p, p: classification.roc_auc(y, clean_p) - classification.roc_auc(y, p),
                (labels, clean_probs, probs), settings, seeding.rng(seed, "aggregate", *keys, "delta_auc"),
            )
            rows.append({
                "dataset": dataset, "model": model, "perturbation": perturbation, "severity": severity,
                "n": len(frame), "accuracy": accuracy[0], "accuracy_low": accuracy[1], "accuracy_high": accuracy[2],
                "roc_auc": auc[0], "roc_auc_low": auc[1], "roc_auc_high": auc[2],
                "delta_auc": delta[0], "delta_auc_low": delta[1], "delta_auc_high": delta[2],
            })
    return _sort_conditions(pd.DataFrame(rows), ["dataset", "model", "perturbation", "severity"])




def cam_metric_table(
    conditions: list[Condition], settings: stats.BootstrapSettings, seed: int, columns: tuple[str, ...] = SCORE_COLUMNS
) -> pd.DataFrame:
    """Long table: mean and CI of every per-image score per (dataset, model, method, layer, perturbation,
    severity, metric). ``n`` counts finite values; ``n_nan`` the undefined ones (e.g. empty GT regions)."""
    rows = []
    for condition in conditions:
        k = condition.keys
        for layer, group in condition.frame.groupby("layer", sort=True):
            for metric in columns:
                values = group[metric].to_numpy(float)
                keys = (k["dataset"], k["model"], k["method"], layer, k["perturbation"], int(k["severity"]), metric)
                mean, low, high, n = stats.mean_ci(values, settings, seeding.rng(seed, "aggregate", *keys))
                rows.append({
                    "dataset": k["dataset"], "model": k["model"], "method": k["method"], "layer": layer,
                    "perturbation": k["perturbation"], "severity": int(k["severity"]), "metric": metric,
                    "n": n, "n_nan": int(np.isnan(values).sum()), "mean": mean, "ci_low": low, "ci_high": high,
                })
    keys = ["dataset", "model", "method", "layer", "perturbation", "severity", "metric"]
    frame = pd.DataFrame(rows, columns=[*keys, "n", "n_nan", "mean", "ci_low", "ci_high"])
    return _sort_conditions(frame, keys)


def side_by_side(
    cam_table: pd.DataFrame, pairs: dict[str, tuple[str, str]], kinds: tuple[str, str]
) -> list[dict[str, object]]:
    """Clean-image rows per (dataset, model, method, layer, name): the mean and CI of the two metrics
    ``pairs[name]`` under the column prefixes ``kinds``."""
    clean = cam_table[(cam_table["perturbation"] == CLEAN[0]) & (cam_table["severity"] == CLEAN[1])]
    keys = ["dataset", "model", "method", "layer"]
    rows = []
    for group_keys, group in clean.groupby(keys, sort=True):
        by_metric = group.set_index("metric")
        for name, columns in pairs.items():
            row = dict(zip(keys, group_keys, strict=True), metric=name)
            for kind, column in zip(kinds, columns, strict=True):
                row[kind] = by_metric.at[column, "mean"]
                row[f"{kind}_low"] = by_metric.at[column, "ci_low"]
                row[f"{kind}_high"] = by_metric.at[column, "ci_high"]
            rows.append(row)
    return rows


def box_vs_mask_table(cam_table: pd.DataFrame) -> pd.DataFrame:
    """Clean-image localisation metrics with the box and the mask version side by side."""
    return pd.DataFrame(side_by_side(cam_table, BOX_MASK_PAIRS, ("box", "mask")))


SANITY_COLUMNS = (
    "rank_correlation", "ssim", "energy_pg_box_trained", "energy_pg_box_randomised",
    "energy_pg_mask_trained", "energy_pg_mask_randomised",
)


def sanity_table(frame: pd.DataFrame, settings: stats.BootstrapSettings, seed: int, threshold: float) -> pd.DataFrame:
    """Model-randomisation check, step 0 of the test (``frame``: the per-image rows of every variant and step):
    mean and CI of each per-image column of :data:`SANITY_COLUMNS` per (dataset, model, method, layer), and
    ``fails_check`` (mean rank correlation above ``threshold``)."""
    from camsweep import sanity  # torch-heavy; only this table needs it

    frame = frame[(frame["variant"] == "cascading") & (frame["step"] == 0)]  # step 0 is alike in both variants
    keys = ["dataset", "model", "method", "layer"]
    verdicts = sanity.summarise(frame, keys, threshold).set_index(keys)["fails_check"]
    columns = tuple(metric for metric in SANITY_COLUMNS if metric in frame)
    table = grouped_mean_table(frame, keys, columns, settings, seed, "sanity").drop(columns="n_nan")
    table["fails_check"] = verdicts.loc[pd.MultiIndex.from_frame(table[keys])].to_numpy()
    return table


CASCADE_KEYS = ["dataset", "model", "method", "layer", "variant", "step", "block"]


def cascading_randomisation_table(
    frame: pd.DataFrame, settings: stats.BootstrapSettings, seed: int, threshold: float
) -> pd.DataFrame:
    """The cascading and independent randomisation test (:mod:`camsweep.sanity`), per :data:`CASCADE_KEYS`:
    ``n`` (images with a defined rank correlation), the mean rank correlation and the mean SSIM, each with its
    bootstrap CI (``*_low``, ``*_high``), and ``fails_check`` (mean rank correlation above ``threshold``)."""
    from camsweep import sanity

    verdicts = sanity.summarise(frame, CASCADE_KEYS, threshold)  # sorted by the keys, as groupby is
    rows = []
    for values, group in frame.groupby(CASCADE_KEYS, sort=True):
        keys = dict(zip(CASCADE_KEYS, values, strict=True)) | {"step": int(values[CASCADE_KEYS.index("step")])}
        row = {**keys, "n": int(group["rank_correlation"].notna().sum())}
        for metric in ("rank_correlation", "ssim"):
            mean, low, high, _ = stats.mean_ci(group[metric].to_numpy(float), settings,
                                               seeding.rng(seed, "cascading_randomisation", *keys.values(), metric))
            row |= {f"mean_{metric}": mean, f"{metric}_low": low, f"{metric}_high": high}
        rows.append(row)
    table = pd.DataFrame(rows)
    table["fails_check"] = verdicts["fails_check"].to_numpy()
    return table


WSOL_DELTAS = (0.3, 0.5, 0.7)


def _max_box_acc_statistic(images: int):
    """Mean over δ of MaxBoxAcc(δ) from the hit counts (..., D, T) of ``images`` images: how many have best
    IoU ≥ δ_d at τ_t (D = 1: MaxBoxAcc(δ)); vectorised over leading resample axes."""
    return lambda hits: (hits / images).max(axis=-1).mean(axis=-1)


def _pxap_statistic(counts: np.ndarray) -> np.ndarray:
    from camsweep.metrics import wsol

    return wsol.pxap_from_counts(np.rint(counts).astype(np.int64))  # sums of integers, exact in float64


def wsol_table(
    conditions: list[tuple[dict[str, object], dict[str, dict[str, np.ndarray]]]], settings: stats.BootstrapSettings,
    seed: int,
) -> pd.DataFrame:
    """Dataset-level WSOL metrics (Choe et al. 2020) per (dataset, model, method, layer, condition) with
    percentile-bootstrap CIs over images: ``max_box_acc_v2``, ``max_box_acc_<δ>`` and ``pxap``.

    ``conditions`` pairs each artifact's keys with its per-image evidence (:func:`camsweep.scoring.wsol_evidence`)
    as ``{"best_iou": {layer: (N, T)}, "pixel_counts": {layer: (N, 2, L)}}``. Images with an empty
    GT (NaN best-IoU rows, all-zero counts) are left out; ``n`` counts the scored images. A condition without
    masks (no evidence) has no rows.
    """
    rows = []
    for k, evidence in conditions:
        for layer in sorted(evidence["best_iou"]):
            best = np.asarray(evidence["best_iou"][layer], dtype=float)
            counts = np.asarray(evidence["pixel_counts"][layer], dtype=np.int64)
            scored = ~np.isnan(best).any(axis=1)
            hits = np.stack([best[scored] >= d for d in WSOL_DELTAS], axis=1).astype(np.uint8)  # (N, D, T)
            box_acc = _max_box_acc_statistic(int(scored.sum()))
            # Per-image values whose sum over the images each statistic reads.
            statistics = {f"max_box_acc_{d}": (hits[:, i : i + 1], box_acc) for i, d in enumerate(WSOL_DELTAS)}
            statistics["max_box_acc_v2"] = (hits, box_acc)
            statistics["pxap"] = (counts[scored], _pxap_statistic)
            for metric, (samples, statistic) in sorted(statistics.items()):
                keys = (k["dataset"], k["model"], k["method"], layer, k["perturbation"], int(k["severity"]), metric)
                if scored.sum() == 0:
                    value, low, high = float("nan"), float("nan"), float("nan")
                else:
                    value, low, high = stats.summed_statistic_ci(statistic, samples, settings,
                                                                 seeding.rng(seed, "wsol", *keys))
                rows.append({
                    "dataset": k["dataset"], "model": k["model"], "method": k["method"], "layer": layer,
                    "perturbation": k["perturbation"], "severity": int(k["severity"]), "metric": metric,
                    "n": int(scored.sum()), "value": value, "ci_low": low, "ci_high": high,
                })
    columns = ["dataset", "model", "method", "layer", "perturbation", "severity", "metric"]
    # Datasets without masks have no evidence and no rows; with none at all the table is its header.
    frame = pd.DataFrame(rows, columns=[*columns, "n", "value", "ci_low", "ci_high"])
    return _sort_conditions(frame, columns)


def grouped_mean_table(
    frame: pd.DataFrame, keys: list[str], columns: tuple[str, ...], settings: stats.BootstrapSettings, seed: int,
    tag: str,
) -> pd.DataFrame:
    """Long table: mean and CI of each per-image column per group of ``keys`` (sorted). ``n`` counts finite
    values, ``n_nan`` undefined ones. ``tag`` keys the bootstrap generators so tables do not share draws."""
    rows = []
    for group_keys, group in frame.groupby(keys, sort=True):
        group_keys = group_keys if isinstance(group_keys, tuple) else (group_keys,)
        for metric in columns:
            values = group[metric].to_numpy(float)
            mean, low, high, n = stats.mean_ci(values, settings, seeding.rng(seed, tag, *group_keys, metric))
            rows.append({**dict(zip(keys, group_keys, strict=True)), "metric": metric, "n": n,
                         "n_nan": int(np.isnan(values).sum()), "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


REPORT_METRICS = ("accuracy", "roc_auc", "sensitivity", "specificity", "youden", "discriminant_power")


def _report_statistic(metric: str):
    """A bootstrap statistic of one report metric, looping over the resample axis statistic_ci adds."""
    def statistic(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
        if labels.ndim == 1:
            return np.asarray(classification.report(labels, probs)[metric])
        return np.array([classification.report(y, p)[metric] for y, p in zip(labels, probs, strict=True)])
    return statistic


def report_columns(frame: pd.DataFrame, settings: stats.BootstrapSettings, seed: int, keys: tuple) -> dict[str, float]:
    """The classification report (:func:`camsweep.metrics.classification.report`) of one predictions frame:
    each metric and its image-bootstrap CI (``<metric>_low``, ``<metric>_high``). Discriminant power is the
    Haldane–Anscombe-corrected one, finite at sensitivity or specificity 0 or 1, so its interval is filled;
    an undefined metric (a class absent from the images) has a NaN interval."""
    labels, probs = frame["label"].to_numpy(), probabilities_of(frame)
    row: dict[str, float] = {"n": len(frame)}
    for metric in REPORT_METRICS:
        value, low, high = stats.statistic_ci(
            _report_statistic(metric), (labels, probs), settings, seeding.rng(seed, "report", *keys, metric)
        )
        row |= {metric: value, f"{metric}_low": low, f"{metric}_high": high}
    return row


CLASSIFIER_KEYS = ("study", "dataset", "model", "training")


def classifier_table(conditions: list[Condition], settings: stats.BootstrapSettings, seed: int) -> pd.DataFrame:
    """One row per trained classifier: its classification report on its own test images, with CIs.
    Condition keys: :data:`CLASSIFIER_KEYS` (study: ``main`` or ``shortcut``; training: ``ce`` or ``attention``)."""
    rows = []
    for condition in conditions:
        keys = tuple(condition.keys[k] for k in CLASSIFIER_KEYS)
        rows.append({**dict(zip(CLASSIFIER_KEYS, keys, strict=True)), **report_columns(condition.frame, settings, seed, keys)})
    return pd.DataFrame(rows).sort_values(list(CLASSIFIER_KEYS), kind="stable").reset_index(drop=True)
