"""The robustness study's analysis: how far Grad-CAM++ maps move under perturbation (RMSE to the clean map) against how much
the classifier degrades (ΔAUC = AUC(clean) − AUC(perturbed)), on a fixed number of correctly classified
clean test images per class.

* :func:`select_images` — the images the robustness study looks at: per class, the first ``per_class`` correctly classified
  clean test images in split order.
* :func:`rmse_frame` — one row per (condition, layer, selected image) with the condition's ΔAUC.
* :func:`rmse_table` — mean RMSE per (dataset, model, layer, perturbation, severity, class) with bootstrap CIs.
* :func:`severity_summary` — per condition: RMSE averaged over layers and images, and ΔAUC, each with a CI.
* :func:`area_under_severity` — the area under the ΔAUC–severity curve per (dataset, model, perturbation), a
  summary across severities; the robustness study's ΔAUC itself is per severity.

* :func:`robustness_tables` — all of the above from the keyed score and prediction frames of a run.

No plotting here (see :mod:`.figures`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from camsweep import seeding, stats, tables
from camsweep.perturb import CLEAN

log = logging.getLogger(__name__)

AREA_NAME = "area under the ΔAUC–severity curve"
FRAME_COLUMNS = ("dataset", "model", "layer_index", "layer", "perturbation", "severity", "id", "label", "cam_rmse", "delta_auc")
TABLE_KEYS = ["dataset", "model", "layer_index", "layer", "perturbation", "severity", "label"]
CONDITION_KEYS = ["dataset", "model", "perturbation", "severity"]


@dataclass(frozen=True)
class Selection:
    """The images the robustness study scores for one model: ``ids`` in split order, how many were taken per class
    (``counts``, every class of the test labels, 0 included) and how many were asked for (``per_class``)."""

    ids: np.ndarray
    counts: dict[int, int]
    per_class: int

    @property
    def short(self) -> dict[int, int]:
        """Classes with fewer than ``per_class`` correctly classified images: class → images taken."""
        return {label: n for label, n in self.counts.items() if n < self.per_class}


def select_images(clean_predictions: pd.DataFrame, per_class: int, source: str = "clean predictions") -> Selection:
    """Per class (of the frame's labels), the first ``per_class`` correctly classified images in the frame's
    (split) order; fewer where a class has fewer, logged as a warning naming ``source``. ``clean_predictions``:
    a predictions frame (:func:`camsweep.predictions.predictions_frame`) of the clean test split."""
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"{source}: images per class must be a positive integer, got {per_class!r}")
    missing = [c for c in ("id", "label", "correct") if c not in clean_predictions.columns]
    if missing:
        raise ValueError(f"{source}: predictions lack columns {missing}")
    ids = clean_predictions["id"].astype(str)
    if ids.duplicated().any():
        raise ValueError(f"{source}: duplicate image ids, e.g. {ids[ids.duplicated()].iloc[0]!r}")
    labels = clean_predictions["label"].to_numpy(np.int64)
    correct = clean_predictions["correct"].to_numpy(bool)
    # Rank of each correct image within its class, in split order; keep ranks < per_class.
    rank = pd.Series(np.where(correct, 1, 0)).groupby(labels).cumsum().to_numpy()
    keep = correct & (rank <= per_class)
    counts = {int(label): int((keep & (labels == label)).sum()) for label in np.unique(labels)}
    selection = Selection(ids.to_numpy()[keep], counts, int(per_class))
    if selection.short:
        log.warning(
            "%s: fewer than %d correctly classified images in class(es) %s (images taken per class: %s)",
            source, per_class, sorted(selection.short), selection.short,
        )
    return selection


def _classification_index(classification: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in [*CONDITION_KEYS, "delta_auc"] if c not in classification.columns]
    if missing:
        raise ValueError(f"classification table lacks columns {missing}")
    index = classification.assign(
        dataset=classification["dataset"].astype(str), model=classification["model"].astype(str),
        perturbation=classification["perturbation"].astype(str), severity=classification["severity"].astype(np.int64),
    )
    duplicated = index.duplicated(CONDITION_KEYS)
    if duplicated.any():
        raise ValueError(f"classification table has duplicate conditions, e.g. {index.loc[duplicated, CONDITION_KEYS].iloc[0].tolist()}")
    return index.set_index(CONDITION_KEYS)


def _layers_for(layers: Sequence[str] | Mapping[str, Sequence[str]] | None, model: str, frame: pd.DataFrame) -> list[str]:
    if layers is None:
        return list(dict.fromkeys(frame["layer"].astype(str)))  # the score file's order = the model's cam_layers
    if isinstance(layers, Mapping):
        if model not in layers:
            raise ValueError(f"no robustness-study layers given for model {model!r}; have {sorted(layers)}")
        return [str(layer) for layer in layers[model]]
    return [str(layer) for layer in layers]


def rmse_frame(
    scores: Sequence[tables.Condition],
    selections: Mapping[tuple[str, str], Sequence[str] | Selection],
    classification: pd.DataFrame,
    layers: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Per-image RMSE rows of :data:`FRAME_COLUMNS` for the selected images, one per (condition, layer, image).

    ``scores``: per-image score frames (:func:`camsweep.scoring.score_maps`) keyed by dataset, model, method,
    perturbation and severity — one method; the clean condition is skipped (its RMSE is 0 by definition).
    ``selections``: (dataset, model) → selected ids. ``classification``: :func:`camsweep.tables.classification_table`
    rows; each condition's ``delta_auc`` is joined onto its images. ``layers``: the robustness study's layers in order, one list
    for every model or per model; None: every layer of the score files, in their order. ``layer_index`` is a
    layer's position in that order (tables and figures sort by it)."""
    methods = sorted({str(c.keys["method"]) for c in scores})
    if len(methods) > 1:
        raise ValueError(f"the robustness study's scores must come from one CAM method, got {methods}")
    delta = _classification_index(classification)["delta_auc"]
    frames = []
    for condition in scores:
        k = condition.keys
        dataset, model, perturbation, severity = str(k["dataset"]), str(k["model"]), str(k["perturbation"]), int(k["severity"])
        if (perturbation, severity) == CLEAN:
            continue
        name = f"{dataset}/{model}/{k['method']}/{perturbation}/{severity}"
        if (dataset, model) not in selections:
            raise ValueError(f"{name}: no image selection for dataset {dataset!r}, model {model!r}")
        selected = selections[(dataset, model)]
        selected = np.asarray(selected.ids if isinstance(selected, Selection) else selected).astype(str)
        if (dataset, model, perturbation, severity) not in delta.index:
            raise ValueError(f"{name}: the classification table has no row for this condition")
        frame = condition.frame.assign(id=condition.frame["id"].astype(str), layer=condition.frame["layer"].astype(str))
        wanted = _layers_for(layers, model, frame)
        missing_layers = sorted(set(wanted) - set(frame["layer"]))
        if missing_layers:
            raise ValueError(f"{name}: scores lack layer(s) {missing_layers}; have {sorted(set(frame['layer']))}")
        rows = frame[frame["layer"].isin(wanted) & frame["id"].isin(selected)]
        absent = sorted(set(selected) - set(rows["id"]))
        if absent:
            raise ValueError(f"{name}: scores lack {len(absent)} selected image(s), e.g. {absent[:3]}")
        order = {layer: i for i, layer in enumerate(wanted)}
        rows = rows.assign(
            dataset=dataset, model=model, perturbation=perturbation, severity=severity,
            layer_index=rows["layer"].map(order).astype(np.int64), label=rows["label"].astype(np.int64),
            delta_auc=float(delta.loc[(dataset, model, perturbation, severity)]),
        )
        # Layers in the robustness study's order, images in split order within each layer.
        frames.append(rows.sort_values("layer_index", kind="stable")[list(FRAME_COLUMNS)])
    if not frames:
        raise ValueError("no perturbed condition among the robustness study's scores")
    result = pd.concat(frames, ignore_index=True)
    return result.sort_values(["dataset", "model", "perturbation", "severity", "layer_index"], kind="stable").reset_index(drop=True)


def rmse_table(frame: pd.DataFrame, settings: stats.BootstrapSettings, seed: int) -> pd.DataFrame:
    """Mean cam_rmse and its image-bootstrap CI per (dataset, model, layer, perturbation, severity, label)
    (:func:`camsweep.tables.grouped_mean_table`, generators keyed by the group), with the condition's
    ``delta_auc``. Rows sorted by dataset, model, perturbation, severity, then layer order and label."""
    table = tables.grouped_mean_table(frame, TABLE_KEYS, ("cam_rmse",), settings, seed, "s2_rmse")
    delta = frame.drop_duplicates(CONDITION_KEYS).set_index(CONDITION_KEYS)["delta_auc"]
    table["delta_auc"] = delta.loc[pd.MultiIndex.from_frame(table[CONDITION_KEYS])].to_numpy()
    order = [*CONDITION_KEYS, "layer_index", "label"]
    return table.drop(columns="metric").sort_values(order, kind="stable").reset_index(drop=True)


def severity_summary(
    frame: pd.DataFrame, classification: pd.DataFrame, settings: stats.BootstrapSettings, seed: int
) -> pd.DataFrame:
    """Per (dataset, model, perturbation, severity) of ``frame``: ``rmse`` — the mean over selected images of
    each image's RMSE averaged over the robustness study's layers, with an image-bootstrap CI — and the condition's ``delta_auc``
    with its CI from the classification table. ``n`` counts images."""
    index = _classification_index(classification)
    rows = []
    for keys, group in frame.groupby(CONDITION_KEYS, sort=True):
        per_image = group.groupby("id", sort=False)["cam_rmse"].mean().to_numpy(float)
        mean, low, high, n = stats.mean_ci(per_image, settings, seeding.rng(seed, "s2_summary", *keys))
        row = index.loc[keys]
        rows.append({
            **dict(zip(CONDITION_KEYS, keys, strict=True)), "n": n, "rmse": mean, "rmse_low": low, "rmse_high": high,
            "delta_auc": float(row["delta_auc"]),
            "delta_auc_low": float(row.get("delta_auc_low", np.nan)), "delta_auc_high": float(row.get("delta_auc_high", np.nan)),
        })
    return pd.DataFrame(rows)


def area_under_severity(classification: pd.DataFrame, models: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """The area under the ΔAUC–severity curve per (dataset, model, perturbation): the trapezoid rule over
    severity 0 (ΔAUC = 0, the clean images) and every severity in the table, in ΔAUC × severity units.
    ``models``: the (dataset, model) pairs to keep (None: all). ``severities`` lists the points used, so an
    area over fewer severities is not mistaken for one over 0…5."""
    index = _classification_index(classification).reset_index()
    index = index[index["perturbation"] != CLEAN[0]]
    if models is not None:
        wanted = {(str(d), str(m)) for d, m in models}
        index = index[[(d, m) in wanted for d, m in zip(index["dataset"], index["model"], strict=True)]]
    rows = []
    for (dataset, model, perturbation), group in index.groupby(["dataset", "model", "perturbation"], sort=True):
        group = group.sort_values("severity")
        if (group["severity"] <= 0).any():
            raise ValueError(f"{dataset}/{model}/{perturbation}: severities must be positive, got {group['severity'].tolist()}")
        severity = np.concatenate([[0.0], group["severity"].to_numpy(float)])
        delta = np.concatenate([[0.0], group["delta_auc"].to_numpy(float)])
        area = float(np.sum((severity[1:] - severity[:-1]) * (delta[1:] + delta[:-1]) / 2))
        rows.append({"dataset": dataset, "model": model, "perturbation": perturbation, "metric": AREA_NAME,
                     "value": area, "severities": ",".join(str(int(s)) for s in severity)})
    return pd.DataFrame(rows, columns=["dataset", "model", "perturbation", "metric", "value", "severities"])


@dataclass(frozen=True)
class RobustnessTables:
    """What :func:`robustness_tables` returns: the per-image frame, its three tables, and how many images
    were taken per class, per (dataset, model)."""

    frame: pd.DataFrame
    rmse: pd.DataFrame
    summary: pd.DataFrame
    area: pd.DataFrame
    selection: dict[str, dict[str, int]]


def robustness_tables(
    scores: Sequence[tuple[Mapping[str, object], pd.DataFrame]],
    clean_predictions: Sequence[tuple[Mapping[str, str], pd.DataFrame, str]],
    classification: pd.DataFrame,
    per_class: int,
    layers: Sequence[str] | Mapping[str, Sequence[str]] | None,
    settings: stats.BootstrapSettings,
    seed: int,
) -> RobustnessTables:
    """The study's tables: ``scores`` are (keys, per-image scores) of one method per condition (keys:
    dataset, model, method, perturbation, severity); ``clean_predictions`` are (keys: dataset, model; frame;
    the file it came from, named in errors): the clean predictions the images are selected from;
    ``classification`` is the classification table (ΔAUC)."""
    selections = {
        (keys["dataset"], keys["model"]): select_images(frame, per_class, source=source)
        for keys, frame, source in clean_predictions
    }
    conditions = [tables.Condition(dict(keys), frame) for keys, frame in scores]
    frame = rmse_frame(conditions, selections, classification, layers)
    return RobustnessTables(
        frame=frame,
        rmse=rmse_table(frame, settings, seed),
        summary=severity_summary(frame, classification, settings, seed),
        area=area_under_severity(classification, sorted(selections)),
        selection={f"{d}/{m}": {str(k): n for k, n in chosen.counts.items()} for (d, m), chosen in sorted(selections.items())},
    )
