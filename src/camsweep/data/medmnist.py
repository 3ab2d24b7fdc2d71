"""MedMNIST 2-D datasets through the ``medmnist`` package: official train/val/test, one label per image, no masks.

The package's dataset class checks and downloads ``{root}/{flag}.npz`` (size 28) or ``{flag}_{size}.npz``;
its arrays ``{split}_images`` (N, S, S[, 3]) uint8 and ``{split}_labels`` (N, 1) become prepared splits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from camsweep.data import raw
from camsweep.data.imageset import ImageSet

SIZES = (28, 64, 128, 224)
LAYOUT = """\
{root}/
└── {file}        arrays train_images, train_labels, val_images, val_labels, test_images, test_labels"""


def _package():
    import medmnist  # imports torch; kept out of module import time

    return medmnist


def flags_2d() -> list[str]:
    medmnist = _package()
    from medmnist.dataset import MedMNIST2D

    return sorted(f for f, info in medmnist.INFO.items() if issubclass(getattr(medmnist, info["python_class"]), MedMNIST2D))


def file_name(flag: str, size: int) -> str:
    """The package's file naming: no suffix at 28 px, ``_{size}`` otherwise."""
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def check(options: dict) -> dict:
    """The INFO record of the configured flag, after checking flag, task and sizes (ValueError otherwise)."""
    flag, size = options["medmnist"]["flag"], options["medmnist"]["size"]
    valid = flags_2d()
    if flag not in valid:
        raise ValueError(f"medmnist.flag: unknown or not 2-D flag {flag!r}; valid 2-D flags: {valid}")
    info = _package().INFO[flag]
    if info["task"].startswith("multi-label"):
        raise ValueError(f"medmnist.flag: {flag} is a {info['task']} task; only one label per image is supported")
    if size not in SIZES:
        raise ValueError(f"medmnist.size: {size} is not one of {list(SIZES)}")
    image_size = options["image_size"]
    if size < raw.MIN_SIDE and (image_size is None or image_size < raw.MIN_SIDE):
        raise ValueError(
            f"medmnist.size {size} with image_size {image_size}: the perturbations need images of at least "
            f"{raw.MIN_SIDE} px a side; set image_size: {raw.MIN_SIDE} (resize) or medmnist.size: 64"
        )
    return info


def load_split(options: dict, split: str):
    """The package's dataset object for ``split``; DatasetUnavailable if the file is missing or not downloadable."""
    medmnist = _package()
    flag, size, root = options["medmnist"]["flag"], options["medmnist"]["size"], Path(options["root"])
    info = medmnist.INFO[flag]
    name = file_name(flag, size)
    url = info["url" if size == 28 else f"url_{size}"]

    def unavailable(problem: str) -> raw.DatasetUnavailable:
        how = f"download {url} and save it as {root / name} (or set download: true on a machine with network access)"
        return raw.DatasetUnavailable(problem, root, how, LAYOUT.format(root=root, file=name))

    if not options["download"] and not (root / name).is_file():
        raise unavailable(f"MedMNIST {flag} ({size} px) not found: no {root / name}, and download is off")
    root.mkdir(parents=True, exist_ok=True)  # the package refuses a root that does not exist
    # Only download when the file is missing: the package otherwise re-checks the MD5 of the whole file.
    download = options["download"] and not (root / name).is_file()
    try:
        return getattr(medmnist, info["python_class"])(split=split, size=size, root=str(root), download=download)
    except Exception as error:  # download failure (the package turns URLError into RuntimeError), bad file
        raise unavailable(f"MedMNIST {flag} ({size} px): {type(error).__name__}: {str(error).strip()}") from error


def to_imageset(images: np.ndarray, labels: np.ndarray, ids: list[str], class_names: list[str], side: int | None,
                source: str) -> ImageSet:
    """A prepared split from the package's arrays: grey → RGB, resized to ``side`` (None: native)."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] != 1:
        raise ValueError(f"{source}: labels have shape {labels.shape}; only one label per image is supported")
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3):
        raise ValueError(f"{source}: images must be uint8 (N, S, S) or (N, S, S, 3), got {images.dtype} {images.shape}")
    # The package stores RGB (not OpenCV's BGR): grey is replicated, colour kept as is.
    rgb = [raw.resize_image(image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2), side)
           for image in images]
    shape = (side, side) if side is not None else tuple(images.shape[1:3])
    return raw.build(rgb, labels.reshape(-1).astype(np.int64), ids, class_names, None, shape,
                     {"source": "medmnist"})


def prepare(name: str, options: dict, seed: int) -> dict[str, ImageSet]:
    """The official splits of datasets.<name> (``seed`` unused: MedMNIST ships its val split)."""
    info = check(options)
    flag, size = options["medmnist"]["flag"], options["medmnist"]["size"]
    class_names = [info["label"][str(i)] for i in range(len(info["label"]))]
    splits = {}
    for split in raw.SPLITS:
        dataset = load_split(options, split)
        ids = [f"{flag}_{split}_{index:05d}" for index in range(len(dataset.imgs))]
        source = str(Path(options["root"]) / file_name(flag, size))
        splits[split] = to_imageset(dataset.imgs, dataset.labels, ids, class_names, options["image_size"], source)
    side = splits["test"].images.shape[1:3]
    raw.check_min_side(side, f"datasets.{name}")
    return splits


def fetch(options: dict) -> dict:
    check(options)
    load_split(options, "test")
    path = Path(options["root"]) / file_name(options["medmnist"]["flag"], options["medmnist"]["size"])
    count, size = raw.list_files(path)
    return {"source": "medmnist", "root": str(options["root"]), "files": count, "bytes": size}
