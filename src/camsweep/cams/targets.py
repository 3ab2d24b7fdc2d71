"""What a map explains: a scalar score per image, computed from the model's output.

* :class:`ClassTargets` — classifiers: the logit of one class per image (pre-softmax, as in the papers
  and in pytorch-grad-cam's ``ClassifierOutputTarget``).
* :class:`RegionTargets` — segmenters: the sum of the class-c logits over a region mask per image
  (pytorch-grad-cam's ``SemanticSegmentationTarget``). Without masks the region is the model's own
  predicted mask for class c on the unperturbed forward pass, fixed before any ablation or masking.

Targets are *bound* to the first forward pass (:meth:`bind`), so that methods which re-run the network
(Score-CAM, Ablation-CAM) score every re-run against the same class and the same region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

TARGET_MODES = ("predicted", "clean_predicted", "label")


def class_targets(
    mode: str, labels: np.ndarray, predicted: np.ndarray, clean_predicted: np.ndarray | None = None
) -> np.ndarray:
    """Class per image: the prediction on the image itself (``predicted``), on its clean version
    (``clean_predicted``, so every condition explains the same decision), or the true ``label``."""
    if mode == "predicted":
        return np.asarray(predicted, dtype=np.int64)
    if mode == "clean_predicted":
        if clean_predicted is None:
            raise ValueError("target mode 'clean_predicted' needs the clean predictions")
        return np.asarray(clean_predicted, dtype=np.int64)
    if mode == "label":
        return np.asarray(labels, dtype=np.int64)
    raise ValueError(f"unknown CAM target mode {mode!r}; valid: {', '.join(TARGET_MODES)}")


def _class_indices(classes: Sequence[int] | torch.Tensor, count: int) -> torch.Tensor:
    classes = torch.as_tensor(classes).reshape(-1)
    if len(classes) != count:
        raise ValueError(f"got {len(classes)} targets for {count} images; give exactly one target per image")
    if classes.dtype.is_floating_point or classes.dtype == torch.bool:
        raise ValueError(f"class targets must be integers, got {classes.dtype}")
    return classes.long()


def _check_classes(classes: torch.Tensor, available: int) -> None:
    if len(classes) and (classes.min() < 0 or classes.max() >= available):
        raise ValueError(f"target classes must be in [0, {available - 1}], got {classes.tolist()}")


@dataclass(frozen=True)
class ClassTargets:
    """One class index per image; the score is that class's logit (outputs of shape (N, classes))."""

    classes: torch.Tensor

    def __len__(self) -> int:
        return len(self.classes)

    def bind(self, outputs: torch.Tensor) -> BoundTargets:
        if outputs.ndim != 2:
            raise ValueError(
                f"class targets need classifier outputs (N, classes), got shape {tuple(outputs.shape)}; "
                "use RegionTargets for a segmenter"
            )
        _check_classes(self.classes, outputs.shape[1])
        return BoundTargets(self.classes.to(outputs.device), None)


def predicted_regions(outputs: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool: the pixels a segmenter's outputs (N, C, H, W) assign to each image's class — argmax
    over channels, or logit > 0 for a single-channel output."""
    if outputs.shape[1] == 1:
        return outputs[:, 0] > 0
    return outputs.argmax(dim=1) == classes[:, None, None]


@dataclass(frozen=True)
class RegionTargets:
    """Segmenters: Σ over a region of the class-c logits, per image (outputs of shape (N, C, H, W)).

    ``masks`` (N, H, W) bool gives the regions; ``None`` uses the predicted mask of class c on the bound
    forward pass (argmax over classes, or logit > 0 for a single-channel output).
    """

    classes: torch.Tensor
    masks: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.classes)

    def bind(self, outputs: torch.Tensor) -> BoundTargets:
        if outputs.ndim != 4:
            raise ValueError(f"region targets need segmenter outputs (N, C, H, W), got shape {tuple(outputs.shape)}")
        _check_classes(self.classes, outputs.shape[1])
        classes = self.classes.to(outputs.device)
        if self.masks is None:
            masks = predicted_regions(outputs, classes)
        else:
            masks = self.masks.to(outputs.device)
            if masks.shape != (outputs.shape[0], *outputs.shape[2:]):
                raise ValueError(
                    f"region masks must have shape {(outputs.shape[0], *outputs.shape[2:])} (N, H, W) to match the "
                    f"segmenter output, got {tuple(masks.shape)}"
                )
        return BoundTargets(classes, masks.bool())


@dataclass(frozen=True)
class BoundTargets:
    """Targets fixed to one batch: ``scores(outputs, rows)`` scores output i for image ``rows[i]``."""

    classes: torch.Tensor
    masks: torch.Tensor | None

    def scores(self, outputs: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        if rows is None:
            rows = torch.arange(len(outputs), device=outputs.device)
        classes = self.classes[rows]
        if self.masks is None:
            return outputs.gather(1, classes[:, None])[:, 0]
        picked = outputs[torch.arange(len(outputs), device=outputs.device), classes]  # (B, H, W)
        return (picked * self.masks[rows]).flatten(1).sum(dim=1)


Targets = ClassTargets | RegionTargets


def as_targets(targets: Targets | Sequence[int] | torch.Tensor, count: int) -> Targets:
    """Targets for ``count`` images: class indices become :class:`ClassTargets`; a list whose length is not
    ``count`` is an error, never truncated."""
    if isinstance(targets, RegionTargets):
        classes = _class_indices(targets.classes, count)
        if targets.masks is not None and len(targets.masks) != count:
            raise ValueError(f"got {len(targets.masks)} region masks for {count} images")
        return RegionTargets(classes, targets.masks)
    if isinstance(targets, ClassTargets):
        targets = targets.classes
    return ClassTargets(_class_indices(targets, count))


def select(targets: Targets, rows: slice) -> Targets:
    """The targets of a slice of the images (for batching)."""
    if isinstance(targets, RegionTargets):
        return RegionTargets(targets.classes[rows], None if targets.masks is None else targets.masks[rows])
    return ClassTargets(targets.classes[rows])
