"""One workflow job's inputs: its classifier, the rows of the test split it works on, and their images.

Every per-image script starts the same way: :func:`load` takes the job object as a script gets it (the
``snakemake`` object, or :mod:`camsweep.scripting`'s stand-in; this module never imports Snakemake) and
reads

* ``job.input.split`` — the prepared split, only the job's rows (its shard's range from
  ``job.input.plan`` and ``job.wildcards.shard``, every image when the job is not sharded): archives are
  memory-mapped, so a shard's job reads its shard and the ids, whatever the size of the split;
* ``job.input.regions`` (optional) — a segmenter's regions standing in for the split's ground truth;
* ``job.input.model`` (optional) — the classifier, on ``job.params.device``, with ``job.threads``
  torch threads;
* ``job.input.images`` — read on demand, one condition at a time (:meth:`JobInputs.images`).

Artifacts covering the whole split (images, predictions, regions) have their ids checked against the
whole split's before the job's rows are taken, as the scripts did when they read everything.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from camsweep import io, shards
from camsweep.data import ImageSet, check_ids, load_ids, load_images, load_split

if TYPE_CHECKING:
    import torch
    from torch import nn

    from camsweep.models import classifiers


@dataclass(frozen=True)
class JobInputs:
    split: ImageSet  # the job's rows only
    rows: slice  # of the whole split
    split_ids: np.ndarray  # every id of the whole split, to check artifacts that cover all of it
    image_paths: tuple[str, ...]
    model: nn.Module | None = None
    spec: classifiers.ClassifierSpec | None = None
    device: torch.device | None = None

    def images(self, path: str | os.PathLike | None = None) -> np.ndarray:
        """The job's rows of an images archive (default: the job's only ``images`` input), ids checked."""
        if path is None:
            if len(self.image_paths) != 1:
                raise ValueError(f"the job has {len(self.image_paths)} images inputs: name the one to read")
            path = self.image_paths[0]
        return load_images(path, self.split_ids, self.rows)

    def preprocessed(self, path: str | os.PathLike | None = None) -> "torch.Tensor":
        """:meth:`images`, preprocessed for the job's classifier."""
        from camsweep.models import classifiers

        return classifiers.preprocess(self.images(path), self.spec)

    def table(self, path: str | os.PathLike) -> pd.DataFrame:
        """The job's rows of a per-image table of the whole split (e.g. predictions), ids checked."""
        frame = pd.read_parquet(path)
        check_ids(frame["id"], self.split_ids, path)
        return frame.iloc[self.rows]


def _paths(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, (str, os.PathLike)) else tuple(map(str, value))


def load(job: Any) -> JobInputs:
    """The job's inputs (module docstring)."""
    inputs = dict(job.input.items())
    split_path = inputs["split"]
    rows = shards.job_rows(job)  # this job's shard of the test split (all of it when unsharded)
    split_ids = load_ids(split_path)
    subset = load_split(split_path, rows)
    if "regions" in inputs:  # datasets.<name>.regions_from: a segmenter's regions are the truth
        predicted, _ = io.load_npz(inputs["regions"], mmap=True)
        check_ids(predicted["ids"], split_ids, inputs["regions"])
        subset = dataclasses.replace(subset, masks=np.array(predicted["masks"][rows]),
                                     boxes=np.array(predicted["boxes"][rows]))
        logging.info("ground truth: the segmenter's regions in %s", inputs["regions"])
    loaded = JobInputs(subset, rows, split_ids, _paths(inputs.get("images")))
    if "model" not in inputs:
        return loaded
    # torch only for jobs with a model: a job without one (score_cams) starts a second faster.
    import torch

    from camsweep.models import classifiers

    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(inputs["model"], device)
    return dataclasses.replace(loaded, model=model, spec=spec, device=device)
