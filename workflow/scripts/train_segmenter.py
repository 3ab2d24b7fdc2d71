"""Train one U-Net segmenter on its dataset's masks; save checkpoint, training curve, per-image test
Dice/IoU and the predicted test masks. The run itself is camsweep.training_runs.train_segmenter."""

import numpy as np
import torch

from camsweep import io, training_runs
from camsweep.data import load_split
from camsweep.models import segmentation
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    train_set, val_set, test_set = (load_split(job.input[k]) for k in ("train", "val", "test"))
    run = training_runs.train_segmenter(train_set, val_set, test_set, job.params.segmenter, job.params.seed, job.params.device)
    segmentation.save_checkpoint(job.output.model, run.model, run.spec, run.meta)
    io.save_csv(job.output.history, run.history)
    io.save_json(job.output.metrics, run.meta)
    io.save_parquet(job.output.test_scores, run.test_scores, run.meta)
    io.save_npz(job.output.test_masks, {"masks": run.test_masks, "ids": test_set.ids}, run.meta)
    if not np.isfinite(run.test_scores["dice"]).all():
        raise RuntimeError("non-finite Dice on the test split")
