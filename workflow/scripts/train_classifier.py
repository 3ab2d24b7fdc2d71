"""Train one classifier on one dataset (with the attention term and train-time augmentation if configured), or take
pretrained weights as they are; save checkpoint, training curve and the classification report on the test split.

params.model is models.<name> (defaults filled). Its start (camsweep.models.pretrained.initialise_classifier):
``weights: imagenet`` (ImageNet mean/std), ``checkpoint`` (a camsweep checkpoint keeps its own mean/std; any
other file gets ImageNet mean/std, torchvision's convention), or random init (the train split's mean/std).
``train.epochs: 0`` trains nothing: the history CSV then has the header only (the columns of a training run
without attention), and a kept ImageNet head (weights imagenet) gets no classification report (its classes are
not the dataset's): the metrics record ``explains: imagenet`` and the 1000 ImageNet class names instead.
``train.augmentation`` adds perturbed copies of the train split, made per batch (camsweep.augment); the
normalisation statistics stay those of the clean train split, so a run with and one without it differ only in
the images they learn from. The run itself is camsweep.training_runs.train_classifier."""

import torch

from camsweep import io, training_runs
from camsweep.data import load_split
from camsweep.models import classifiers
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    inputs = dict(job.input.items())
    run = training_runs.train_classifier(
        *(load_split(getattr(job.input, k)) for k in ("train", "val", "test")), job.params.model, job.params.seed,
        job.params.device, checkpoint=inputs.get("checkpoint"), train_source=job.input.train,
        region_files=list(job.input.regions) if "regions" in inputs else [],
    )
    classifiers.save_checkpoint(job.output.model, run.model, run.spec, run.meta)
    io.save_csv(job.output.history, run.history)
    io.save_json(job.output.metrics, run.meta)
