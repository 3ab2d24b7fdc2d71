"""One training loop (:func:`fit`) for classifiers and segmenters, and classifier training with it.

The loop draws each epoch's order and the flips from one seeded generator, runs a one-cycle schedule and
logs one history row per epoch; what a batch is and how it is scored comes from a :class:`Task`: a
classifier's (:class:`ClassifierTask`: cross-entropy, or the attention study's attention term through an
:class:`Objective` from :mod:`camsweep.attention`) or a segmenter's (:mod:`camsweep.models.segmentation`).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from camsweep import seeding
from camsweep.data.imageset import ImageSet
from camsweep.models.classifiers import ClassifierSpec, build, preprocess

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """Defaults are the pipeline's (workflow/schemas/config.schema.yaml)."""

    epochs: int = 8
    batch_size: int = 32
    optimiser: str = "adamw"  # adamw | sgd (Nesterov momentum)
    learning_rate: float = 0.003  # peak of the one-cycle schedule
    weight_decay: float = 5e-4
    momentum: float = 0.9  # SGD only
    label_smoothing: float = 0.0
    flips: bool = True  # random horizontal and vertical flips (the synthetic classes are flip-invariant)
    precision: str = "float32"  # float32 | bfloat16 | auto (see resolve_precision)


# The columns of a history row without attention (train adds ce_weight, attention_loss, ... with it).
HISTORY_COLUMNS = ("epoch", "precision", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """Training compute dtype. ``auto`` takes bfloat16 autocast only where it is native and fast (CUDA,
    or a CPU with AMX tiles); elsewhere bfloat16 is emulated and slower than float32, so float32."""
    if precision == "float32":
        return torch.float32
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        return torch.bfloat16 if torch.cpu._is_amx_tile_supported() else torch.float32
    raise ValueError(f"unknown precision {precision!r}; valid: auto, float32, bfloat16")


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype``; off for float32."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)


def init_model(spec: ClassifierSpec, seed: int) -> nn.Module:
    """Untrained model whose initial weights depend only on ``seed`` (global RNG state is restored)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeding.int_seed(seed, "train", "init"))
        return build(spec)


@torch.inference_mode()
def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` in eval mode."""
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        logits = model(inputs[start : start + batch_size])
        target = labels[start : start + batch_size]
        total_loss += nn.functional.cross_entropy(logits, target, reduction="sum").item()
        correct += (logits.argmax(1) == target).sum().item()
    return total_loss / len(labels), correct / len(labels)


def draw_flips(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Which of ``n`` items to flip horizontally, then vertically: one ``rand(n)`` each, in that order."""
    horizontal = torch.rand(n, generator=generator) < 0.5
    vertical = torch.rand(n, generator=generator) < 0.5
    return horizontal, vertical


def apply_flips(batch: torch.Tensor, horizontal: torch.Tensor, vertical: torch.Tensor) -> torch.Tensor:
    """Flip the last two axes (…, H, W) of each item; works for images (N, C, H, W) and regions (N, H, W)."""
    shape = (-1,) + (1,) * (batch.ndim - 1)
    horizontal, vertical = horizontal.to(batch.device), vertical.to(batch.device)
    batch = torch.where(horizontal.view(shape), batch.flip(-1), batch)
    return torch.where(vertical.view(shape), batch.flip(-2), batch)


# ----------------------------------------------------------------------------------------------- the loop


class LoopSettings(Protocol):
    """What :func:`fit` reads of a model's train settings (:class:`TrainSettings`, the segmenter's)."""

    epochs: int
    batch_size: int
    learning_rate: float


class Task(Protocol):
    """What is trained: the batches, their loss and each epoch's statistics."""

    def start_epoch(self, epoch: int) -> None:
        """Reset the epoch's running statistics (``epoch`` counts from 1)."""

    def step(self, index: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(objective to minimise, loss reported as ``train_loss``) of the items at ``index``; flips are
        drawn from ``generator``."""

    def end_epoch(self, epoch: int) -> dict[str, float]:
        """The history's columns after ``train_loss``: the epoch's training statistics, then validation."""


def fit(
    model: nn.Module,
    task: Task,
    optimiser: torch.optim.Optimizer,
    n_items: int,
    settings: LoopSettings,
    compute_dtype: torch.dtype,
    generator: torch.Generator,
    device: torch.device,
    progress: bool,
) -> list[dict[str, float]]:
    """Train ``model`` on ``n_items`` items for ``settings.epochs`` epochs of shuffled batches (order drawn
    from ``generator``) with a one-cycle schedule peaking at ``settings.learning_rate``; one history row
    per epoch: ``epoch``, ``precision``, ``train_loss`` (mean over the items), the task's columns, ``seconds``."""
    steps_per_epoch = int(np.ceil(n_items / settings.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=settings.learning_rate, epochs=settings.epochs, steps_per_epoch=steps_per_epoch
    )
    precision = str(compute_dtype).removeprefix("torch.")
    history = []
    for epoch in range(1, settings.epochs + 1):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(n_items, generator=generator).to(device)
        task.start_epoch(epoch)
        loss_sum = 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{settings.epochs}", disable=not progress, mininterval=5)
        for step in bar:
            index = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            objective, loss = task.step(index, generator)
            optimiser.zero_grad(set_to_none=True)
            objective.backward()
            optimiser.step()
            schedule.step()
            loss_sum += loss.item() * len(index)
        row = {"epoch": epoch, "precision": precision, "train_loss": loss_sum / n_items, **task.end_epoch(epoch)}
        row["seconds"] = time.perf_counter() - started
        history.append(row)
        scores = ", ".join(f"{key} {value:.4f}" for key, value in row.items() if key not in ("epoch", "precision", "seconds"))
        logger.info("epoch %d/%d: %s (%s, %.1f s)", epoch, settings.epochs, scores, precision, row["seconds"])
    return history


# ----------------------------------------------------------------------------------------------- classifiers


class TrainImages(Protocol):
    """Training images made per batch (e.g. :class:`camsweep.augment.AugmentedSplit`): item i shows image
    i mod len(split) of ``split``, possibly altered."""

    split: ImageSet
    labels: np.ndarray

    def __len__(self) -> int: ...

    def images(self, index: np.ndarray) -> np.ndarray:
        """uint8 (len(index), H, W, 3) images of the items at ``index``."""


class Objective(Protocol):
    """A classifier's training objective: :class:`CrossEntropy`, or e.g. the attention study's
    :class:`camsweep.attention.AttentionObjective`. ``task`` gives the model, device, settings and splits."""

    def prepare(self, task: ClassifierTask) -> None:
        """Check the objective's inputs against the task and move them to its device."""

    def start_epoch(self, epoch: int) -> None: ...

    def step(
        self, task: ClassifierTask, batch: torch.Tensor, target: torch.Tensor, index: torch.Tensor,
        flips: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(objective, cross-entropy, logits) of a (flipped) batch; ``flips`` are the batch's flip draws
        (None: no flips), ``index`` its items."""

    def epoch_stats(self, task: ClassifierTask) -> dict[str, float]:
        """History columns after validation accuracy (model in eval mode)."""


class CrossEntropy:
    """Plain cross-entropy (with the settings' label smoothing) on float32 logits."""

    def prepare(self, task: ClassifierTask) -> None:
        pass

    def start_epoch(self, epoch: int) -> None:
        pass

    def step(
        self, task: ClassifierTask, batch: torch.Tensor, target: torch.Tensor, index: torch.Tensor,
        flips: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with autocast(task.device, task.compute_dtype):
            logits = task.model(batch)
            loss = task.cross_entropy(logits, target)
        return loss, loss, logits

    def epoch_stats(self, task: ClassifierTask) -> dict[str, float]:
        return {}


class ClassifierTask:
    """A classifier's batches (flipped), objective, accuracy and validation loss and accuracy."""

    def __init__(
        self, model: nn.Module, spec: ClassifierSpec, train_set: ImageSet | TrainImages, val_set: ImageSet,
        settings: TrainSettings, device: torch.device, compute_dtype: torch.dtype, objective: Objective,
    ):
        self.model, self.settings, self.device, self.compute_dtype = model, settings, device, compute_dtype
        self.objective = objective
        if isinstance(train_set, ImageSet):  # preprocessed once
            self.train_split = train_set
            inputs = preprocess(train_set.images, spec).to(device)
            self.inputs = lambda index: inputs[index]
        else:  # made per batch: memory holds the clean split only
            self.train_split = train_set.split
            self.inputs = lambda index: preprocess(train_set.images(index.cpu().numpy()), spec).to(device)
        self.labels = torch.as_tensor(train_set.labels, device=device)
        self.val_set = val_set
        self.val_inputs = preprocess(val_set.images, spec).to(device)
        self.val_labels = torch.as_tensor(val_set.labels, device=device)
        self.correct = 0
        objective.prepare(self)

    def cross_entropy(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits.float(), target, label_smoothing=self.settings.label_smoothing)

    def start_epoch(self, epoch: int) -> None:
        self.correct = 0
        self.objective.start_epoch(epoch)

    def step(self, index: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        batch, target = self.inputs(index), self.labels[index]
        flips = draw_flips(batch.shape[0], generator) if self.settings.flips else None
        if flips is not None:
            batch = apply_flips(batch, *flips)
        objective, loss, logits = self.objective.step(self, batch, target, index, flips)
        self.correct += (logits.argmax(1) == target).sum().item()
        return objective, loss

    def end_epoch(self, epoch: int) -> dict[str, float]:
        val_loss, val_accuracy = evaluate(self.model, self.val_inputs, self.val_labels, 256)
        stats = {"train_accuracy": self.correct / len(self.labels), "val_loss": val_loss, "val_accuracy": val_accuracy}
        return {**stats, **self.objective.epoch_stats(self)}


def optimiser_for(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    if settings.optimiser == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    if settings.optimiser == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=settings.learning_rate, momentum=settings.momentum,
            weight_decay=settings.weight_decay, nesterov=True,
        )
    raise ValueError(f"unknown optimiser {settings.optimiser!r}; valid: adamw, sgd")


def train(
    spec: ClassifierSpec,
    train_set: ImageSet | TrainImages,
    val_set: ImageSet,
    settings: TrainSettings,
    seed: int,
    device: torch.device = torch.device("cpu"),
    progress: bool = True,
    *,
    objective: Objective | None = None,
    initial_model: nn.Module | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train a fresh model; returns (model in eval mode, per-epoch history, :data:`HISTORY_COLUMNS`).

    The start is :func:`init_model` (``spec``, ``seed``), or a copy of ``initial_model`` when given (e.g.
    pretrained weights, :mod:`camsweep.models.pretrained`; it must be ``spec``'s model and is left as it is).
    ``train_set`` is a split, or images made per batch (:class:`TrainImages`, e.g. perturbed copies).
    The objective is cross-entropy unless ``objective`` says otherwise (the attention study's attention term:
    :class:`camsweep.attention.AttentionObjective`, which adds its own history columns).
    """
    start = init_model(spec, seed) if initial_model is None else copy.deepcopy(initial_model)
    model = start.to(device).to(memory_format=torch.channels_last)
    compute_dtype = resolve_precision(settings.precision, device)
    task = ClassifierTask(model, spec, train_set, val_set, settings, device, compute_dtype, objective or CrossEntropy())
    optimiser = optimiser_for(model, settings)
    generator = torch.Generator().manual_seed(seeding.int_seed(seed, "train", "batches"))
    history = fit(model, task, optimiser, len(task.labels), settings, compute_dtype, generator, device, progress)
    return model.eval(), history
