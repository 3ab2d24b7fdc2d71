"""Shards: the test split cut into runs of consecutive images, one CAM / metric job each, merged after.

A plan (written once per dataset, when its test split exists) fixes every shard's ``[start, stop)``
image range. Every per-image stage computes each image independently of its batch-mates, so merging
the shards in order gives what a single job over the whole split gives.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from camsweep import io

PLAN_KEYS = ("images", "images_per_shard", "ranges")


def ranges(n_images: int, images_per_shard: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each shard: runs of ``images_per_shard`` images, the last one shorter."""
    if images_per_shard < 1:
        raise ValueError(f"shards.images must be at least 1, got {images_per_shard}")
    if n_images < 1:
        raise ValueError("the test split has no images: there is nothing to shard")
    return [(start, min(start + images_per_shard, n_images)) for start in range(0, n_images, images_per_shard)]


def save_plan(path: str | os.PathLike, n_images: int, images_per_shard: int) -> None:
    plan = {"images": n_images, "images_per_shard": images_per_shard,
            "ranges": [list(r) for r in ranges(n_images, images_per_shard)]}
    io.save_json(path, plan)


def load_plan(path: str | os.PathLike) -> list[tuple[int, int]]:
    plan = json.loads(Path(path).read_text())
    if not isinstance(plan, dict) or set(plan) != set(PLAN_KEYS):
        raise ValueError(f"{path}: not a shard plan (needs keys {list(PLAN_KEYS)})")
    return [(int(start), int(stop)) for start, stop in plan["ranges"]]


def rows(plan_path: str | os.PathLike, shard: int | str) -> slice:
    """The image range of one shard of a plan."""
    plan = load_plan(plan_path)
    index = int(shard)
    if not 0 <= index < len(plan):
        raise ValueError(f"{plan_path}: shard {shard} does not exist (the plan has {len(plan)})")
    return slice(*plan[index])


def job_rows(job: Any) -> slice:
    """The images a workflow job works on: its shard's range, or every image when it is not sharded."""
    inputs = dict(job.input.items())
    if "plan" not in inputs:
        return slice(None)
    return rows(inputs["plan"], job.wildcards.shard)


def merged_provenance(metas: Sequence[dict[str, Any]], sources: Sequence[str]) -> dict[str, Any]:
    """The shards' common provenance, without the shard index; they must agree on everything else."""
    def without_shard(meta: dict[str, Any]) -> dict[str, Any]:
        meta = dict(meta)
        params = dict(meta.get("params", {}))
        params.pop("shard", None)
        meta["params"] = params
        return meta

    stripped = [without_shard(meta) for meta in metas]
    for meta, source in zip(stripped[1:], sources[1:], strict=True):
        if meta.get("params") != stripped[0].get("params"):
            raise ValueError(f"{source}: its parameters differ from {sources[0]}'s: shards of different runs")
    return stripped[0]


def merge_npz(paths: Sequence[str | os.PathLike]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Concatenate per-image arrays of shard archives (in plan order) along their first axis."""
    loaded = [io.load_npz(path) for path in paths]
    keys = list(loaded[0][0])
    for (arrays, _), path in zip(loaded, paths, strict=True):
        if list(arrays) != keys:
            raise ValueError(f"{path}: arrays {list(arrays)} differ from {paths[0]}'s {keys}")
    merged = {key: np.concatenate([arrays[key] for arrays, _ in loaded]) for key in keys}
    return merged, merged_provenance([meta for _, meta in loaded], [str(p) for p in paths])


# Columns a whole-split job groups its rows by (the sanity test: variant, step, then layer), outermost first.
GROUP_COLUMNS = ("variant", "step", "layer")


def merge_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-image tables of shards; rows stay grouped as a whole-split job writes them (by the
    :data:`GROUP_COLUMNS` it has, in the first shard's order, e.g. layer by layer; images in order within)."""
    merged = pd.concat(frames, ignore_index=True)
    columns = [column for column in GROUP_COLUMNS if column in merged]
    if not columns:
        return merged
    groups = list(dict.fromkeys(frames[0][columns].itertuples(index=False, name=None)))
    order = {group: rank for rank, group in enumerate(groups)}
    rank = np.array([order[group] for group in merged[columns].itertuples(index=False, name=None)])
    return merged.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
