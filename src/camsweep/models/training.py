"""Training a classifier from scratch: SGD with a one-cycle schedule and flip augmentation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

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
    precision: str = "auto"  # float32 | bfloat16 | auto (see resolve_precision)


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


def _flip(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n = batch.shape[0]
    horizontal = torch.rand(n, generator=generator) < 0.5
    vertical = torch.rand(n, generator=generator) < 0.5
    batch = torch.where(horizontal.view(-1, 1, 1, 1), batch.flip(3), batch)
    return torch.where(vertical.view(-1, 1, 1, 1), batch.flip(2), batch)


def train(
    spec: ClassifierSpec,
    train_set: ImageSet,
    val_set: ImageSet,
    settings: TrainSettings,
    seed: int,
    device: torch.device = torch.device("cpu"),
    progress: bool = True,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train a fresh model; returns (model in eval mode, per-epoch history)."""
    model = init_model(spec, seed).to(device).to(memory_format=torch.channels_last)
    inputs = preprocess(train_set.images, spec).to(device)
    labels = torch.as_tensor(train_set.labels, device=device)
    val_inputs = preprocess(val_set.images, spec).to(device)
    val_labels = torch.as_tensor(val_set.labels, device=device)

    steps_per_epoch = int(np.ceil(len(labels) / settings.batch_size))
    if settings.optimiser == "adamw":
        optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    elif settings.optimiser == "sgd":
        optimiser = torch.optim.SGD(
            model.parameters(), lr=settings.learning_rate, momentum=settings.momentum,
            weight_decay=settings.weight_decay, nesterov=True,
        )
    else:
        raise ValueError(f"unknown optimiser {settings.optimiser!r}; valid: adamw, sgd")
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=settings.learning_rate, epochs=settings.epochs, steps_per_epoch=steps_per_epoch
    )
    compute_dtype = resolve_precision(settings.precision, device)
    generator = torch.Generator().manual_seed(seeding.int_seed(seed, "train", "batches"))
    history = []
    for epoch in range(1, settings.epochs + 1):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(labels), generator=generator).to(device)
        loss_sum, correct = 0.0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{settings.epochs}", disable=not progress, mininterval=5)
        for step in bar:
            index = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            batch, target = inputs[index], labels[index]
            if settings.flips:
                batch = _flip(batch, generator)
            with torch.autocast(device.type, dtype=compute_dtype, enabled=compute_dtype != torch.float32):
                logits = model(batch)
                loss = nn.functional.cross_entropy(logits.float(), target, label_smoothing=settings.label_smoothing)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            loss_sum += loss.item() * len(index)
            correct += (logits.argmax(1) == target).sum().item()
        val_loss, val_accuracy = evaluate(model, val_inputs, val_labels, 256)
        history.append({
            "epoch": epoch, "precision": str(compute_dtype).removeprefix("torch."), "train_loss": loss_sum / len(labels), "train_accuracy": correct / len(labels),
            "val_loss": val_loss, "val_accuracy": val_accuracy, "seconds": time.perf_counter() - started,
        })
        logger.info("epoch %d: train loss %.4f acc %.4f, val loss %.4f acc %.4f (%s, %.1f s)", epoch,
                    history[-1]["train_loss"], history[-1]["train_accuracy"], val_loss, val_accuracy,
                    history[-1]["precision"], history[-1]["seconds"])
    return model.eval(), history
