"""Shared pieces of the real-dataset readers: decoding, resizing, carving val, assembling prepared splits.

A reader lists its images as :class:`Item` s per split; :func:`assemble` decodes them with OpenCV, checks
image/mask agreement, resizes to the configured square side and returns one :class:`ImageSet` per split.

Converted (and counted in the log): grey and grey + alpha → RGB by replication, RGBA → RGB (alpha dropped),
16-bit → 8-bit (v / 257, rounded), any size → ``image_size`` square (stretched, not cropped). Refused with a
:class:`BadFile` naming the file and the fix: missing, empty, undecodable or truncated files (a truncated JPEG
decodes "successfully" in OpenCV, grey below the cut, so its marker structure is checked), other pixel types
or channel counts, JPEG-compressed masks, masks drawn in the alpha channel only, masks of another size than
their image; with ``image_size: null``, images of different sizes. Every file is read before failing, so one
error lists all of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camsweep import regions, seeding
from camsweep.data.imageset import ImageSet

SPLITS = ("train", "val", "test")
MIN_SIDE = 32  # the perturbations (motion blur kernels, ImageNet-C parameters) need at least this side
LISTED = 20  # bad files named in one error; the rest are counted
FIX_FILE = "replace it with an intact copy (re-download or re-extract it), or remove it from the dataset"
FIX_PIXELS = "convert it to an 8- or 16-bit grey, RGB or RGBA PNG, or remove it from the dataset"
FIX_MASK = "save the mask losslessly (PNG) as one grey channel, 0 = background and nonzero = foreground"

log = logging.getLogger(__name__)


class BadFile(ValueError):
    """One image or mask file that cannot be used: ``problem`` (naming the file) and ``fix`` (what to do)."""

    def __init__(self, problem: str, fix: str = ""):
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}; {fix}" if fix else problem)

    def __reduce__(self):
        return type(self), (self.problem, self.fix)


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


# A marker after JPEG entropy-coded data: 0xFF not followed by a stuffed 0x00, a restart marker or a fill byte.
_MARKER_AFTER_SCAN = re.compile(rb"\xff(?![\x00\xd0-\xd7\xff])")
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD9)}  # TEM, RST0-7, SOI: markers without a length field


def jpeg_truncation(data: bytes) -> str | None:
    """Why JPEG bytes stop early (None if the marker structure reaches end-of-image).

    OpenCV's libjpeg decodes a truncated JPEG anyway, fills the missing rows grey and only prints "Premature end
    of JPEG file" on stderr, so truncation is checked here: segments are walked by their lengths, each scan's
    entropy-coded data up to the next marker, until the EOI marker. Bytes after EOI (trailers) are ignored.
    """
    pos, size = 2, len(data)
    while True:
        if pos + 2 > size:
            return f"the data stops after {size} bytes, before the end-of-image marker"
        if data[pos] != 0xFF or data[pos + 1] == 0xFF:  # stray bytes or fill bytes: skip to the next marker, as libjpeg does
            found = _MARKER_AFTER_SCAN.search(data, pos + 1)
            if found is None:
                return f"the data stops after {size} bytes, before the end-of-image marker"
            pos = found.start()
            continue
        marker = data[pos + 1]
        if marker == 0xD9:
            return None
        if marker in _JPEG_NO_LENGTH:
            pos += 2
            continue
        if pos + 4 > size:
            return f"the data stops after {size} bytes, inside a segment header"
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if end > size:
            return f"the data stops after {size} bytes, inside a {end - pos}-byte segment"
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next marker
            found = _MARKER_AFTER_SCAN.search(data, end)
            if found is None:
                return f"the data stops after {size} bytes, inside the image data (no end-of-image marker)"
            end = found.start()
        pos = end


@contextlib.contextmanager
def _opencv_quiet() -> Iterator[None]:
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _decode(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """(pixels exactly as stored, "jpeg" | "other"); :class:`BadFile` naming the file if it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise BadFile(f"{path}: file does not exist", FIX_FILE)
    data = path.read_bytes()
    if not data:
        raise BadFile(f"{path}: empty file (0 bytes)", FIX_FILE)
    # IMREAD_UNCHANGED also ignores EXIF orientation, so pixels line up with masks drawn on the stored
    # array (as torchvision's PIL loading does).
    kind = "jpeg" if data[:3] == b"\xff\xd8\xff" else "other"
    if kind == "jpeg":
        truncated = jpeg_truncation(data)
        if truncated is not None:
            raise BadFile(f"{path}: truncated JPEG ({truncated}; a decoder would fill the rest grey)", FIX_FILE)
    with _opencv_quiet():  # its own complaint about a broken file would only repeat the error raised below
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise BadFile(f"{path}: not a readable image (corrupt or unsupported format)", FIX_FILE)
    return pixels, kind


def read_raw(path: str | os.PathLike) -> np.ndarray:
    """The file's pixels exactly as stored (``cv2.IMREAD_UNCHANGED``); :class:`BadFile` (a ``ValueError``) naming it
    if it is missing, empty, undecodable or a truncated JPEG."""
    return _decode(path)[0]


def conversion(pixels: np.ndarray) -> str | None:
    """What :func:`to_rgb8` does to a decoded array beyond the BGR → RGB swap (None: nothing)."""
    notes = []
    if pixels.dtype == np.uint16:
        notes.append("16-bit scaled to 8-bit")
    if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (1, 2)):
        notes.append("grey replicated to RGB")
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        notes.append("alpha channel dropped")
    return ", ".join(notes) or None


def to_rgb8(pixels: np.ndarray, source: str | os.PathLike = "image") -> np.ndarray:
    """(H, W, 3) uint8 RGB from a decoded OpenCV array: grey replicated, alpha dropped, 16-bit scaled.

    Refused (:class:`BadFile`): other pixel types (float, 32-bit, signed) and other channel counts.
    """
    if pixels.dtype == np.uint16:
        pixels = np.round(pixels / 257.0).astype(np.uint8)  # 65535 → 255 exactly
    elif pixels.dtype != np.uint8:
        raise BadFile(f"{source}: unsupported pixel type {pixels.dtype} (8- or 16-bit images only)", FIX_PIXELS)
    if pixels.ndim == 3 and pixels.shape[2] in (1, 2):
        pixels = pixels[:, :, 0]  # grey (+ alpha)
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise BadFile(
            f"{source}: unsupported image shape {pixels.shape} (grey, grey + alpha, RGB or RGBA only)", FIX_PIXELS
        )
    return np.ascontiguousarray(pixels[:, :, 2::-1])  # BGR(A) → RGB


def read_image(path: str | os.PathLike) -> np.ndarray:
    return to_rgb8(read_raw(path), path)


def _read_image_noting(path: str | os.PathLike) -> tuple[np.ndarray, str | None]:
    pixels = read_raw(path)
    return to_rgb8(pixels, path), conversion(pixels)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """(H, W) bool: nonzero pixels are foreground (colour masks: any colour channel nonzero; alpha ignored).

    Refused (:class:`BadFile`): JPEG-compressed masks (lossy compression leaves faint nonzero pixels around the
    object, which would count as foreground) and masks drawn in the alpha channel only (colour all 0, alpha
    varying: read as colour they would be empty).
    """
    pixels, kind = _decode(path)
    if kind == "jpeg":
        raise BadFile(
            f"mask {path} is JPEG-compressed: lossy compression leaves faint nonzero pixels around the object, "
            "and every nonzero pixel counts as foreground", FIX_MASK,
        )
    if pixels.ndim == 3:
        channels = pixels.shape[2]
        colour = pixels[:, :, : channels - 1] if channels in (2, 4) else pixels
        if channels in (2, 4) and not colour.any() and pixels[:, :, -1].min() != pixels[:, :, -1].max():
            raise BadFile(
                f"mask {path}: its colour channels are all 0 and only its alpha (transparency) channel varies; "
                "foreground is read from the colour channels, so this mask would be empty", FIX_MASK,
            )
        pixels = colour.max(axis=2)
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
    odd = [(name, other) for name, other in sizes[1:] if other != shape]
    if odd:
        name, other = odd[0]
        counts = Counter(size for _, size in sizes)
        raise ValueError(
            f"{name} is {other[0]}x{other[1]} (HxW) but {first} is {shape[0]}x{shape[1]}: images differ in "
            f"size ({len(odd)} of {len(sizes)} differ from the first; {len(counts)} sizes, most common "
            f"{'x'.join(map(str, counts.most_common(1)[0][0]))}), so set image_size (e.g. image_size: 224) to resize "
            "them all to one square side (non-square images are stretched, not cropped)"
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
            raise BadFile(
                f"mask {item.mask} is {mask.shape[0]}x{mask.shape[1]} but image {item.image} is "
                f"{image_shape[0]}x{image_shape[1]} (HxW); a mask must have its image's size",
                f"check that the mask belongs to this image, or redraw it at {image_shape[0]}x{image_shape[1]}",
            )
    if item.box is None:
        return mask
    x_min, y_min, x_max, y_max = item.box
    height, width = image_shape
    if not (0 <= x_min <= x_max < width and 0 <= y_min <= y_max < height):
        raise BadFile(
            f"{item.where()}: box {list(item.box)} does not lie inside the {height}x{width} image",
            f"boxes are inclusive pixel coordinates with 0 <= x_min <= x_max < {width} and 0 <= y_min <= y_max < {height}",
        )
    if mask is None:
        return regions.box_to_mask(np.array(item.box), image_shape)
    tight = regions.box_from_mask(mask)
    if tight.tolist() != list(item.box):
        raise BadFile(
            f"{item.where()}: box {list(item.box)} is not the tight box {tight.tolist()} of mask {item.mask}",
            "leave the box cells empty (the box is derived from the mask) or correct them",
        )
    return mask


def bad_files_error(problems: Sequence[BadFile], total: int) -> ValueError:
    """One error for every unusable file: the single problem itself, or a list (the first :data:`LISTED`) with
    each distinct fix once."""
    if len(problems) == 1:
        return problems[0]
    lines = [f"{len(problems)} of {total} images cannot be used:"]
    lines += [f"  - {problem.problem}" for problem in problems[:LISTED]]
    if len(problems) > LISTED:
        lines.append(f"  ... and {len(problems) - LISTED} more")
    fixes = list(dict.fromkeys(problem.fix for problem in problems if problem.fix))
    lines += [f"To fix: {fix}" for fix in fixes]
    return ValueError("\n".join(lines))


def assemble(
    splits: Mapping[str, Sequence[Item]], class_names: Sequence[str], image_size: int | None,
    meta: Mapping | None = None, with_masks: bool | None = None,
) -> dict[str, ImageSet]:
    """Decode, check and resize every item; one ImageSet per split.

    A split has masks when its items have regions (``with_masks`` None), or always / never as ``with_masks``
    says (so an empty split of a dataset with masks still carries (0, H, W) masks). Every item is read before
    failing, so one error names all unusable files; conversions made (grey → RGB, alpha dropped, 16 → 8 bit,
    resizing) are counted in the log.
    """
    decoded: dict[str, tuple[list, list | None]] = {}
    sizes: list[tuple[str, tuple[int, int]]] = []
    problems: list[BadFile] = []
    notes: Counter[str] = Counter()
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
            try:
                image, note = _read_image_noting(item.image)
                region = _region(item, image.shape[:2]) if masks is not None else None
            except BadFile as problem:
                problems.append(problem)
                continue
            notes.update([note] if note else [])
            sizes.append((str(item.image), image.shape[:2]))
            if masks is not None:
                masks.append(resize_mask(region, image_size))
            images.append(resize_image(image, image_size))
        decoded[split] = images, masks
    if problems:
        raise bad_files_error(problems, sum(len(items) for items in splits.values()))
    if image_size is None:
        check_one_size(sizes)
    else:
        notes.update([f"resized to {image_size}x{image_size}"] * sum(size != (image_size, image_size) for _, size in sizes))
    for note, count in sorted(notes.items()):
        log.info("%d of %d images converted: %s", count, len(sizes), note)
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
