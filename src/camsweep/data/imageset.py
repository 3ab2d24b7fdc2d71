"""The prepared split: the one in-memory and on-disk format every dataset is converted to.

A split is an ``.npz`` with ``images`` (N, H, W, 3) uint8, ``labels`` (N,) int64, ``ids`` (N,) str,
``class_names`` (K,) str and, when the dataset has ground truth, ``masks`` (N, H, W) bool and
``boxes`` (N, 4) int32 (inclusive ``x_min, y_min, x_max, y_max``; see :mod:`camsweep.regions`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from camsweep import io, regions


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    class_names: tuple[str, ...]
    masks: np.ndarray | None = None
    boxes: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        validate(self)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def has_masks(self) -> bool:
        return self.masks is not None

    def subset(self, index: np.ndarray) -> ImageSet:
        """The images at ``index`` (an integer array or boolean mask), in that order."""
        def pick(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[index]

        return ImageSet(
            images=self.images[index], labels=self.labels[index], ids=self.ids[index],
            class_names=self.class_names, masks=pick(self.masks), boxes=pick(self.boxes), meta=self.meta,
        )

    def with_images(self, images: np.ndarray, **meta: Any) -> ImageSet:
        """Same ground truth, new pixels (e.g. perturbed); ``meta`` is merged into the record."""
        return ImageSet(
            images=images, labels=self.labels, ids=self.ids, class_names=self.class_names,
            masks=self.masks, boxes=self.boxes, meta={**self.meta, **meta},
        )


def validate(split: ImageSet) -> None:
    """Raise ``ValueError`` naming the field at fault if the split is inconsistent."""
    images = split.images
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    n, height, width = images.shape[:3]
    if split.labels.shape != (n,) or not np.issubdtype(split.labels.dtype, np.integer):
        raise ValueError(f"labels must be integer ({n},), got {split.labels.dtype} {split.labels.shape}")
    if split.ids.shape != (n,):
        raise ValueError(f"ids must have shape ({n},), got {split.ids.shape}")
    unique, counts = np.unique(split.ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"image ids are not unique: {unique[counts > 1][:5].tolist()} appear more than once")
    k = len(split.class_names)
    if n and (split.labels.min() < 0 or split.labels.max() >= k):
        bad = split.labels[(split.labels < 0) | (split.labels >= k)][0]
        raise ValueError(f"label {bad} is outside the class list {list(split.class_names)}")
    if (split.masks is None) != (split.boxes is None):
        raise ValueError("masks and boxes must be given together")
    if split.masks is not None:
        if split.masks.dtype != bool or split.masks.shape != (n, height, width):
            raise ValueError(
                f"masks must be bool {(n, height, width)}, got {split.masks.dtype} {split.masks.shape}"
            )
        if split.boxes.shape != (n, 4):
            raise ValueError(f"boxes must be ({n}, 4), got {split.boxes.shape}")
        expected = regions.boxes_from_masks(split.masks)
        wrong = np.flatnonzero((expected != split.boxes).any(axis=1))
        if wrong.size:
            i = wrong[0]
            raise ValueError(
                f"box of image {split.ids[i]!s} is {split.boxes[i].tolist()}, "
                f"but its mask's tight box is {expected[i].tolist()}"
            )


def save_split(path: str | os.PathLike, split: ImageSet, meta: dict[str, Any] | None = None) -> None:
    arrays = {
        "images": split.images, "labels": split.labels.astype(np.int64), "ids": split.ids.astype(str),
        "class_names": np.array(split.class_names, dtype=str),
    }
    if split.masks is not None:
        arrays["masks"] = split.masks
        arrays["boxes"] = split.boxes.astype(np.int32)
    io.save_npz(path, arrays, {**split.meta, **(meta or {})})


def load_split(path: str | os.PathLike, rows: slice = slice(None)) -> ImageSet:
    """The split at ``path``, or only its images in ``rows``: then the archive is memory-mapped and just
    those rows are read (copied out into ordinary arrays)."""
    partial = rows != slice(None)
    # A whole split is read as before: mapping it would only add its page cache to the peak memory.
    arrays, meta = io.load_npz(path, mmap=partial)
    missing = {"images", "labels", "ids", "class_names"} - arrays.keys()
    if missing:
        raise ValueError(f"{path}: not a prepared split, missing arrays {sorted(missing)}")

    def take(name: str) -> np.ndarray | None:
        if name not in arrays:
            return None
        return np.array(arrays[name][rows]) if partial else arrays[name]

    try:
        return ImageSet(
            images=take("images"), labels=take("labels"), ids=take("ids"),
            class_names=tuple(arrays["class_names"].tolist()), masks=take("masks"), boxes=take("boxes"), meta=meta,
        )
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def load_ids(path: str | os.PathLike) -> np.ndarray:
    """Every image id of a split (or of any archive with ``ids``), without reading its images."""
    arrays, _ = io.load_npz(path, mmap=True)
    if "ids" not in arrays:
        raise ValueError(f"{path}: has no image ids")
    return np.array(arrays["ids"])


def check_ids(ids: np.ndarray, split: ImageSet | np.ndarray, source: str | os.PathLike) -> None:
    """Raise if an artifact's image ids (in order) are not the split's (or are not ``split``, an id array):
    it belongs to other images."""
    expected = split.ids if isinstance(split, ImageSet) else split
    if not np.array_equal(np.asarray(ids).astype(str), np.asarray(expected).astype(str)):
        raise ValueError(f"{source}: image ids do not match the split's ({len(ids)} vs {len(expected)} images)")


def load_images(path: str | os.PathLike, split: ImageSet | np.ndarray, rows: slice = slice(None)) -> np.ndarray:
    """The uint8 images of a perturbed copy of ``split`` (written by the perturb stage), ids checked
    against ``split`` (the whole split, or its ids); only ``rows`` of them are read."""
    partial = rows != slice(None)
    arrays, _ = io.load_npz(path, mmap=partial)
    if "images" not in arrays or "ids" not in arrays:
        raise ValueError(f"{path}: not a perturbed-images archive (needs 'images' and 'ids')")
    check_ids(arrays["ids"], split, path)
    return np.array(arrays["images"][rows]) if partial else arrays["images"]
