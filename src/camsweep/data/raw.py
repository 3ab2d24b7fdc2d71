"""Shared pieces of the real-dataset readers: decoding, resizing, carving val, assembling prepared splits.

A reader lists its images as :class:`Item` s per split; :func:`assemble` decodes them with OpenCV, checks
image/mask agreement, resizes to the configured square side and returns one :class:`ImageSet` per split.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camsweep import regions, seeding
from camsweep.data.imageset import ImageSet

SPLITS = ("train", "val", "test")
MIN_SIDE = 32  # the perturbations (motion blur kernels, ImageNet-C parameters) need at least this side


class DatasetUnavailable(RuntimeError):
    """The raw files of a dataset are missing (or could not be downloaded).

    The message says what failed, where camsweep looked, how to place the files by hand and the layout
    expected. With only ``problem`` given (e.g. when unpickled), the message is ``problem`` itself.
    """

    def __init__(self, problem: str, root: str | os.PathLike | None = None, how: str = "", layout: str = ""):
        self.problem, self.root, self.how, self.layout = problem, root, how, layout
        parts = [problem]
        if root is not None:
            parts.append(f"Searched: {Path(root).resolve()}")
        if how:
            parts.append(f"To place the files by hand: {how}")
        if layout:
            parts.append(f"Expected layout:\n{layout}")
        super().__init__("\n".join(parts))


@dataclass(frozen=True)
class Item:
    """One image to read. ``origin`` names it in errors (the file, or a CSV line)."""

    id: str
    image: Path
    label: int
    mask: Path | None = None
    box: tuple[int, int, int, int] | None = None  # inclusive x_min, y_min, x_max, y_max at native size
    mask_reader: Callable[[Path], np.ndarray] | None = None  # default: read_mask
    origin: str = ""

    @property
    def has_region(self) -> bool:
        return self.mask is not None or self.box is not None

    def where(self) -> str:
        return self.origin or str(self.image)


def read_raw(path: str | os.PathLike) -> np.ndarray:
    """The file's pixels exactly as stored (``cv2.IMREAD_UNCHANGED``); ``ValueError`` naming it if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: file does not exist")
    # IMREAD_UNCHANGED also ignores EXIF orientation, so pixels line up with masks drawn on the stored
    # array (as torchvision's PIL loading does).
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise ValueError(f"{path}: not a readable image (corrupt or unsupported format)")
    return pixels


def to_rgb8(pixels: np.ndarray, source: str | os.PathLike = "image") -> np.ndarray:
    """(H, W, 3) uint8 RGB from a decoded OpenCV array: grey replicated, alpha dropped, 16-bit scaled."""
    if pixels.dtype == np.uint16:
        pixels = np.round(pixels / 257.0).astype(np.uint8)  # 65535 → 255 exactly
    elif pixels.dtype != np.uint8:
        raise ValueError(f"{source}: unsupported pixel type {pixels.dtype} (8- or 16-bit images only)")
    if pixels.ndim == 3 and pixels.shape[2] in (1, 2):
        pixels = pixels[:, :, 0]  # grey (+ alpha)
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"{source}: unsupported image shape {pixels.shape}")
    return np.ascontiguousarray(pixels[:, :, 2::-1])  # BGR(A) → RGB


def read_image(path: str | os.PathLike) -> np.ndarray:
    return to_rgb8(read_raw(path), path)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """(H, W) bool: nonzero pixels are foreground (colour masks: any colour channel nonzero)."""
    pixels = read_raw(path)
    if pixels.ndim == 3:
        pixels = pixels[:, :, : min(3, pixels.shape[2])].max(axis=2)
    return pixels != 0


def resize_image(image: np.ndarray, side: int | None) -> np.ndarray:
    """Square ``side`` × ``side`` (None: unchanged); area averaging when shrinking, bilinear when enlarging."""
    if side is None or image.shape[:2] == (side, side):
        return image
    shrink = side * side < image.shape[0] * image.shape[1]
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_mask(mask: np.ndarray, side: int | None) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask (no new labels appear at edges)."""
    if side is None or mask.shape == (side, side):
        return mask
    return cv2.resize(mask.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST).astype(bool)


def check_one_size(sizes: Sequence[tuple[str, tuple[int, int]]]) -> None:
    """With ``image_size: null`` every image must have the first one's (H, W); else name an odd file."""
    if not sizes:
        return
    first, shape = sizes[0]
    for name, other in sizes[1:]:
        if other != shape:
            raise ValueError(
                f"{name} is {other[0]}x{other[1]} (HxW) but {first} is {shape[0]}x{shape[1]}: images differ in "
                "size, so set image_size (e.g. image_size: 224) to resize them all to one square side"
            )


def carve_val(ids: Sequence[str], fraction: float, seed: int, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) positions into ``ids``, each ascending: a seeded share ``fraction`` goes to val.

    Which ids go to val depends only on the set of ids, the seed and the dataset name (ids are sorted
    before the draw), never on the order files were listed in.
    """
    ids = np.asarray(ids, dtype=str)
    n = len(ids)
    n_val = int(round(fraction * n))
    if fraction > 0:
        n_val = max(n_val, 1)
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"val_fraction {fraction} of {n} train images leaves {n_val} for val and {n - n_val} for train; "
            "both need at least one image (change val_fraction or provide a val split)"
        )
    order = np.argsort(ids, kind="stable")
    chosen = seeding.rng(seed, "split", dataset).permutation(n)[:n_val]
    val = np.zeros(n, dtype=bool)
    val[order[chosen]] = True
    return np.flatnonzero(~val), np.flatnonzero(val)


def build(
    images: Sequence[np.ndarray], labels: Sequence[int], ids: Sequence[str], class_names: Sequence[str],
    masks: Sequence[np.ndarray] | None, shape: tuple[int, int], meta: Mapping | None = None,
) -> ImageSet:
    """An ImageSet from per-image arrays; an empty split gets zero-length arrays of ``shape`` (H, W)."""
    height, width = shape
    stacked = np.stack(images) if len(images) else np.zeros((0, height, width, 3), np.uint8)
    mask_stack = boxes = None
    if masks is not None:
        mask_stack = np.stack(masks).astype(bool) if len(masks) else np.zeros((0, height, width), bool)
        boxes = regions.boxes_from_masks(mask_stack)  # an empty mask gets regions.NO_BOX
    return ImageSet(
        images=stacked, labels=np.asarray(labels, dtype=np.int64).reshape(-1), ids=np.asarray(ids, dtype=str).reshape(-1),
        class_names=tuple(class_names), masks=mask_stack, boxes=boxes, meta=dict(meta or {}),
    )


def _region(item: Item, image_shape: tuple[int, int]) -> np.ndarray:
    """The item's native-size foreground: its mask file, or its filled box; a box given with a mask must match."""
    mask = None
    if item.mask is not None:
        mask = (item.mask_reader or read_mask)(item.mask)
        if mask.shape != image_shape:
            raise ValueError(
                f"mask {item.mask} is {mask.shape[0]}x{mask.shape[1]} but image {item.image} is "
                f"{image_shape[0]}x{image_shape[1]} (HxW); a mask must have its image's size"
            )
    if item.box is None:
        return mask
    x_min, y_min, x_max, y_max = item.box
    height, width = image_shape
    if not (0 <= x_min <= x_max < width and 0 <= y_min <= y_max < height):
        raise ValueError(f"{item.where()}: box {list(item.box)} does not lie inside the {height}x{width} image")
    if mask is None:
        return regions.box_to_mask(np.array(item.box), image_shape)
    tight = regions.box_from_mask(mask)
    if tight.tolist() != list(item.box):
        raise ValueError(f"{item.where()}: box {list(item.box)} is not the tight box {tight.tolist()} of mask {item.mask}")
    return mask


def assemble(
    splits: Mapping[str, Sequence[Item]], class_names: Sequence[str], image_size: int | None,
    meta: Mapping | None = None, with_masks: bool | None = None,
) -> dict[str, ImageSet]:
    """Decode, check and resize every item; one ImageSet per split.

    A split has masks when its items have regions (``with_masks`` None), or always / never as ``with_masks``
    says (so an empty split of a dataset with masks still carries (0, H, W) masks).
    """
    decoded: dict[str, tuple[list, list | None]] = {}
    sizes: list[tuple[str, tuple[int, int]]] = []
    for split, items in splits.items():
        with_region = [item.has_region for item in items]
        wanted = any(with_region) if with_masks is None else with_masks
        if wanted and not all(with_region):
            lacking = items[with_region.index(False)]
            raise ValueError(
                f"{lacking.where()}: no mask or box, but other {split} images have one; give every image of a split "
                "a region, or none"
            )
        images, masks = [], ([] if wanted else None)
        for item in items:
            image = read_image(item.image)
            sizes.append((str(item.image), image.shape[:2]))
            if masks is not None:
                masks.append(resize_mask(_region(item, image.shape[:2]), image_size))
            images.append(resize_image(image, image_size))
        decoded[split] = images, masks
    if image_size is None:
        check_one_size(sizes)
    shape = (image_size, image_size) if image_size is not None else (sizes[0][1] if sizes else (0, 0))
    check_min_side(shape, sizes[0][0] if sizes else "the images")
    return {
        split: build(images, [item.label for item in splits[split]], [item.id for item in splits[split]],
                     class_names, masks, shape, meta)
        for split, (images, masks) in decoded.items()
    }


def check_min_side(shape: tuple[int, int], source: str) -> None:
    if min(shape) < MIN_SIDE:
        raise ValueError(
            f"{source}: images are {shape[0]}x{shape[1]}, but the perturbations need at least {MIN_SIDE} px a side; "
            f"set image_size (>= {MIN_SIDE}) to resize them"
        )


def list_files(root: str | os.PathLike) -> tuple[int, int]:
    """(file count, total bytes) of every regular file under ``root`` (or of ``root`` itself if a file)."""
    root = Path(root)
    if root.is_file():
        return 1, root.stat().st_size
    count = total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_file():
                count += 1
                total += path.stat().st_size
    return count, total
