"""Training a classifier from scratch: SGD with a one-cycle schedule and flip augmentation, optionally
with S3's differentiable Grad-CAM attention term (:mod:`camsweep.attention`)."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from camsweep import attention as attention_mod
from camsweep import seeding
from camsweep.cams import hooks
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


def _draw_flips(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    horizontal = torch.rand(n, generator=generator) < 0.5
    vertical = torch.rand(n, generator=generator) < 0.5
    return horizontal, vertical


def _apply_flips(batch: torch.Tensor, horizontal: torch.Tensor, vertical: torch.Tensor) -> torch.Tensor:
    """Flip the last two axes (…, H, W) of each item; works for images (N, C, H, W) and regions (N, H, W)."""
    shape = (-1,) + (1,) * (batch.ndim - 1)
    horizontal, vertical = horizontal.to(batch.device), vertical.to(batch.device)
    batch = torch.where(horizontal.view(shape), batch.flip(-1), batch)
    return torch.where(vertical.view(shape), batch.flip(-2), batch)


def _flip(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return _apply_flips(batch, *_draw_flips(batch.shape[0], generator))


def _check_regions(name: str, regions: np.ndarray | None, split: ImageSet) -> torch.Tensor:
    expected = (len(split), *split.images.shape[1:3])
    if regions is None:
        raise ValueError(f"{name} (bool regions {expected}, e.g. the split's masks) are required when attention is set")
    regions = np.asarray(regions)
    if regions.shape != expected:
        raise ValueError(f"{name} must have shape {expected} (one region per image, at image size), got {regions.shape}")
    if regions.dtype != bool:
        raise ValueError(f"{name} must be bool, got {regions.dtype}")
    return torch.from_numpy(np.ascontiguousarray(regions))


def evaluate_attention(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, regions: torch.Tensor, layer: str, batch_size: int
) -> float:
    """Mean ``cam_mass_inside`` of the Grad-CAM (at ``layer``, for the true label, eval mode, float32)
    over the images whose region is non-empty; NaN if there are none."""
    model.eval()
    total, count = 0.0, 0
    with torch.enable_grad():
        for start in range(0, len(labels), batch_size):
            part = slice(start, start + batch_size)
            keep = regions[part].flatten(1).any(dim=1)
            if not keep.any():
                continue
            _, cam = attention_mod.live_gradcam(model, inputs[part], labels[part], layer, create_graph=False)
            total += attention_mod.cam_mass_inside(cam.detach(), regions[part])[keep].sum().item()
            count += int(keep.sum().item())
    return total / count if count else float("nan")


def train(
    spec: ClassifierSpec,
    train_set: ImageSet,
    val_set: ImageSet,
    settings: TrainSettings,
    seed: int,
    device: torch.device = torch.device("cpu"),
    progress: bool = True,
    *,
    attention: attention_mod.AttentionSettings | None = None,
    train_regions: np.ndarray | None = None,
    val_regions: np.ndarray | None = None,
    initial_model: nn.Module | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train a fresh model; returns (model in eval mode, per-epoch history).

    The start is :func:`init_model` (``spec``, ``seed``), or a copy of ``initial_model`` when given (e.g.
    pretrained weights, :mod:`camsweep.models.pretrained`; it must be ``spec``'s model and is left as it is).

    Without ``attention`` the objective is cross-entropy. With it (S3), each step minimises
    L = λ·CE + (1 − λ)·mean_i L_att,i, λ = ``camsweep.attention.ce_weight(attention, epoch − 1)`` (the
    history's epochs count from 1, the schedule's from 0), where the
    Grad-CAM of image i at ``attention.layer`` explains its true label, is built in the same forward as
    the logits and is differentiable (:func:`camsweep.attention.live_gradcam`), and the mean runs over the
    batch's images whose label is not in ``skip_classes`` and whose region is non-empty (0 if none).
    ``train_regions`` (N, H, W) bool, one region per training image at image size, are required then;
    flips flip them with their images. The history gains ``ce_weight``, ``attention_loss`` (mean L_att),
    ``train_mass_inside`` and ``train_hard_ratio`` (``cam_mass_inside`` and ``hard_threshold_ratio`` at
    ``attention.threshold``, of the training-mode maps), each averaged over the epoch's images that carry
    the term; ``train_loss`` stays the cross-entropy. With ``val_regions`` it also reports
    ``val_mass_inside`` (eval-mode Grad-CAM of the true label, float32; see :func:`evaluate_attention`).
    """
    if attention is None:
        if train_regions is not None or val_regions is not None:
            raise ValueError("train_regions and val_regions are only used with attention; pass attention=AttentionSettings(...)")
        return _train(spec, train_set, val_set, settings, seed, device, progress, initial_model=initial_model)
    return _train(
        spec, train_set, val_set, settings, seed, device, progress, attention,
        _check_regions("train_regions", train_regions, train_set),
        None if val_regions is None else _check_regions("val_regions", val_regions, val_set),
        initial_model=initial_model,
    )


def _train(
    spec: ClassifierSpec,
    train_set: ImageSet,
    val_set: ImageSet,
    settings: TrainSettings,
    seed: int,
    device: torch.device,
    progress: bool,
    attention: attention_mod.AttentionSettings | None = None,
    train_regions: torch.Tensor | None = None,
    val_regions: torch.Tensor | None = None,
    initial_model: nn.Module | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    start = init_model(spec, seed) if initial_model is None else copy.deepcopy(initial_model)
    model = start.to(device).to(memory_format=torch.channels_last)
    inputs = preprocess(train_set.images, spec).to(device)
    labels = torch.as_tensor(train_set.labels, device=device)
    val_inputs = preprocess(val_set.images, spec).to(device)
    val_labels = torch.as_tensor(val_set.labels, device=device)
    if attention is not None:
        hooks.resolve_layers(model, [attention.layer])  # fail before training on a bad name
        train_regions = train_regions.to(device)
        val_regions = None if val_regions is None else val_regions.to(device)
        skip = torch.as_tensor(attention.skip_classes, dtype=labels.dtype, device=device)

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
        if attention is not None:
            lam = attention_mod.ce_weight(attention, epoch - 1)
            att_sum, mass_sum, hard_sum, att_count = 0.0, 0.0, 0.0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{settings.epochs}", disable=not progress, mininterval=5)
        for step in bar:
            index = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            batch, target = inputs[index], labels[index]
            if attention is None:
                if settings.flips:
                    batch = _flip(batch, generator)
                with torch.autocast(device.type, dtype=compute_dtype, enabled=compute_dtype != torch.float32):
                    logits = model(batch)
                    loss = nn.functional.cross_entropy(logits.float(), target, label_smoothing=settings.label_smoothing)
            else:
                regions = train_regions[index]
                if settings.flips:
                    horizontal, vertical = _draw_flips(batch.shape[0], generator)
                    batch = _apply_flips(batch, horizontal, vertical)
                    regions = _apply_flips(regions, horizontal, vertical)
                keep = regions.flatten(1).any(dim=1) & ~torch.isin(target, skip)
                with torch.autocast(device.type, dtype=compute_dtype, enabled=compute_dtype != torch.float32):
                    logits, cam = attention_mod.live_gradcam(model, batch, target, attention.layer)
                    ce = nn.functional.cross_entropy(logits.float(), target, label_smoothing=settings.label_smoothing)
                att = attention_mod.attention_loss(cam, regions, attention)  # float32, autocast off
                att_mean = att[keep].mean() if keep.any() else att.sum() * 0.0
                total = lam * ce + (1.0 - lam) * att_mean
                kept = int(keep.sum().item())
                if kept:
                    att_sum += att.detach()[keep].sum().item()
                    mass_sum += attention_mod.cam_mass_inside(cam.detach()[keep], regions[keep]).sum().item()
                    hard_sum += attention_mod.hard_threshold_ratio(cam.detach()[keep], regions[keep], attention.threshold).sum().item()
                    att_count += kept
                loss = ce
            optimiser.zero_grad(set_to_none=True)
            if attention is not None:
                total.backward()
            else:
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
        if attention is not None:
            history[-1].update({
                "ce_weight": lam,
                "attention_loss": att_sum / att_count if att_count else float("nan"),
                "train_mass_inside": mass_sum / att_count if att_count else float("nan"),
                "train_hard_ratio": hard_sum / att_count if att_count else float("nan"),
            })
            if val_regions is not None:
                history[-1]["val_mass_inside"] = evaluate_attention(
                    model, val_inputs, val_labels, val_regions, attention.layer, 256
                )
            history[-1]["seconds"] = time.perf_counter() - started
        logger.info("epoch %d: train loss %.4f acc %.4f, val loss %.4f acc %.4f (%s, %.1f s)", epoch,
                    history[-1]["train_loss"], history[-1]["train_accuracy"], val_loss, val_accuracy,
                    history[-1]["precision"], history[-1]["seconds"])
        if attention is not None:
            logger.info("epoch %d attention: λ %.3f, L_att %.4f, train mass inside %.3f, hard ratio %.3f, val mass inside %s",
                        epoch, lam, history[-1]["attention_loss"], history[-1]["train_mass_inside"],
                        history[-1]["train_hard_ratio"], f"{history[-1].get('val_mass_inside', float('nan')):.3f}")
    return model.eval(), history
