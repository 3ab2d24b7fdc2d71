"""Small deterministic fake datasets in the real on-disk layouts, and complete datasets.<name> option dicts.

Helpers for tests (not tests themselves): each builder writes files exactly where the real reader looks
and returns what a test needs to know (the masks and boxes it drew, the labels it wrote).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from camsweep import regions
from camsweep.data import medmnist as camsweep_medmnist
from camsweep.data.oxford_pet import BREEDS

# As workflow/schemas/config.schema.yaml fills them.
DEFAULTS = {
    "download": False, "image_size": None, "val_fraction": 0.1, "regions_from": None, "classify": True,
    "oxford_pet": {"breeds": None, "numbers": None, "per_breed": None, "test": "official"},
    "medmnist": {"flag": "breastmnist", "size": 28},
    "folder": {"masks": None, "classes": None},
    "manifest": {"classes": None},
}


def dataset_options(source: str, root: str | Path, **overrides) -> dict:
    """datasets.<name> with the spec's defaults filled; a dict override of a section updates that section."""
    options = {"source": source, "root": str(root)}
    for key, value in DEFAULTS.items():
        options[key] = dict(value) if isinstance(value, dict) else value
    for key, value in overrides.items():
        options[key] = {**options[key], **value} if isinstance(value, dict) and isinstance(options.get(key), dict) else value
    return options


def _rng(*keys) -> np.random.Generator:
    from camsweep import seeding

    return seeding.rng(0, "fake", *keys)


def _photo(shape: tuple[int, int], mask: np.ndarray | None, colour: tuple[int, int, int], key) -> np.ndarray:
    """A BGR uint8 image: noisy grey background, the foreground (if any) in ``colour`` (BGR)."""
    image = _rng("photo", key).integers(60, 120, size=(*shape, 3)).astype(np.uint8)
    if mask is not None:
        image[mask] = colour
    return image


# ----------------------------------------------------------------------------------------------- Oxford-IIIT Pet


def pet_trimap(shape: tuple[int, int], outer: tuple[int, int, int, int]) -> np.ndarray:
    """Trimap (2 = background) with a pet (1) inside the inclusive box ``outer`` and a 1-px border ring (3) on it."""
    x_min, y_min, x_max, y_max = outer
    trimap = np.full(shape, 2, np.uint8)
    trimap[y_min : y_max + 1, x_min : x_max + 1] = 3
    trimap[y_min + 1 : y_max, x_min + 1 : x_max] = 1
    return trimap


def make_oxford_pet_tree(
    root: str | Path, images_per_breed: int = 4, breeds: tuple[str, ...] = ("Abyssinian", "Bengal", "beagle"),
    missing: tuple[str, ...] = (), size: tuple[int, int] = (36, 48), vary_size: bool = False,
    trimaps: dict[str, np.ndarray] | None = None,
) -> dict[str, dict]:
    """``root/oxford-iiit-pet/{images,annotations/{trimaps,trainval.txt,test.txt}}`` as in the real archives.

    Images ``{breed}_{n}.jpg`` for n = 1..images_per_breed except the ids in ``missing``; odd numbers are
    listed in trainval.txt, even ones in test.txt. Each trimap is :func:`pet_trimap` of a box that shifts with
    the image (``trimaps`` overrides it per id). Returns per id: split, class_id (1-37), mask (foreground
    drawn), box (its tight box), shape.
    """
    base = Path(root) / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True, exist_ok=True)
    (base / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    cats = [b for b in BREEDS if b[0].isupper()]
    dogs = [b for b in BREEDS if not b[0].isupper()]
    truth: dict[str, dict] = {}
    lines = {"trainval": [], "test": []}
    for breed in sorted(breeds, key=BREEDS.index):
        class_id = BREEDS.index(breed) + 1
        species, breed_id = (1, cats.index(breed) + 1) if breed in cats else (2, dogs.index(breed) + 1)
        for number in range(1, images_per_breed + 1):
            image_id = f"{breed}_{number}"
            if image_id in missing:
                continue
            k = class_id * 100 + number
            shape = (size[0] + 4 * (k % 3), size[1] + 8 * (k % 2)) if vary_size else size
            outer = (3 + k % 7, 2 + k % 5, shape[1] - 4 - k % 3, shape[0] - 3 - k % 4)
            trimap = trimaps[image_id] if trimaps and image_id in trimaps else pet_trimap(shape, outer)
            mask = (trimap == 1) | (trimap == 3)
            colour = (40 + 5 * class_id, 200, 255 - 5 * class_id)
            cv2.imwrite(str(base / "images" / f"{image_id}.jpg"), _photo(trimap.shape, mask, colour, image_id))
            cv2.imwrite(str(base / "annotations" / "trimaps" / f"{image_id}.png"), trimap)
            split = "trainval" if number % 2 else "test"
            # Real lists are sorted as strings within a breed (Abyssinian_10 before Abyssinian_2).
            lines[split].append((image_id, f"{image_id} {class_id} {species} {breed_id}"))
            truth[image_id] = {"split": split, "class_id": class_id, "mask": mask, "shape": trimap.shape,
                               "box": tuple(regions.box_from_mask(mask).tolist())}
    for split, entries in lines.items():
        text = "".join(line + "\n" for _, line in sorted(entries, key=lambda e: (BREEDS.index(e[0].rsplit("_", 1)[0]), e[0])))
        (base / "annotations" / f"{split}.txt").write_text(text)
    return truth


# ----------------------------------------------------------------------------------------------- MedMNIST


def make_medmnist_npz(root: str | Path, flag: str, size: int, counts: dict[str, int]) -> dict[str, np.ndarray]:
    """``root/{flag}[_{size}].npz`` with the package's keys; labels cycle over the classes (multi-label: 0/1 rows)."""
    import medmnist

    info = medmnist.INFO[flag]
    n_classes = len(info["label"])
    arrays = {}
    for split, n in counts.items():
        shape = (n, size, size) if info["n_channels"] == 1 else (n, size, size, 3)
        arrays[f"{split}_images"] = _rng("medmnist", flag, split).integers(0, 256, size=shape).astype(np.uint8)
        if info["task"].startswith("multi-label"):
            arrays[f"{split}_labels"] = (np.arange(n * n_classes).reshape(n, n_classes) % 3 == 0).astype(np.uint8)
        else:
            arrays[f"{split}_labels"] = (np.arange(n) % n_classes).reshape(n, 1).astype(np.uint8)
    Path(root).mkdir(parents=True, exist_ok=True)
    np.savez(Path(root) / camsweep_medmnist.file_name(flag, size), **arrays)
    return arrays


# ----------------------------------------------------------------------------------------------- folders


def box_mask(shape: tuple[int, int], key) -> np.ndarray:
    """A deterministic rectangular mask inside ``shape`` (H, W), different per key."""
    r = _rng("mask", key)
    height, width = shape
    y0, x0 = int(r.integers(0, height // 2)), int(r.integers(0, width // 2))
    y1, x1 = int(r.integers(y0 + 2, height + 1)), int(r.integers(x0 + 2, width + 1))
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def make_image_folder(
    root: str | Path, classes: tuple[str, ...], counts: dict[str, int], size: tuple[int, int] = (40, 40),
    masks: bool = True, masks_root: str | Path | None = None, ext: str = ".png",
) -> dict[str, dict]:
    """``root/{split}/{class}/{class}_{i}{ext}`` (``counts`` images per class and split), masks under ``masks_root``
    (default ``{root}_masks``) as ``{split}/{class}/{stem}.png`` with 255 = foreground. Returns per id (path
    relative to root without extension): image (RGB as written), mask, label (index in ``classes``)."""
    root = Path(root)
    masks_root = Path(masks_root) if masks_root is not None else root.parent / f"{root.name}_masks"
    truth = {}
    for split, n in counts.items():
        for label, cls in enumerate(classes):
            for i in range(n):
                relative = Path(split) / cls / f"{cls}_{i}"
                mask = box_mask(size, relative.as_posix())
                image = _photo(size, mask, (30 + 60 * label, 220, 90), relative.as_posix())
                (root / relative).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / relative) + ext, image)
                if masks:
                    (masks_root / relative).parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(masks_root / relative) + ".png", mask.astype(np.uint8) * 255)
                truth[relative.as_posix()] = {"image": image[:, :, ::-1].copy(), "mask": mask, "label": label}
    return truth


def make_manifest(directory: str | Path, rows: list[dict], name: str = "list.csv") -> Path:
    """Write images (and masks) for ``rows`` and the CSV listing them; returns the CSV path.

    A row: ``path`` (relative to ``directory``), ``label``, ``split``, and optionally ``size`` (H, W; default
    40×40), ``mask`` (bool array, written as ``masks/{stem}.png``), ``box`` (4 ints) and ``image`` (RGB array,
    overrides the drawn one). The written image is stored back in the row as ``image``.
    """
    directory = Path(directory)
    with_box = any("box" in row for row in rows)
    header = ["path", "label", "split", "mask"] + (["x_min", "y_min", "x_max", "y_max"] if with_box else [])
    lines = []
    for row in rows:
        shape = tuple(row.get("size", (40, 40)))
        image = row.get("image")
        if image is None:
            image = _photo(shape, row.get("mask"), (20, 240, 120), row["path"])[:, :, ::-1].copy()
        row["image"] = image
        (directory / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(directory / row["path"]), image[:, :, ::-1])
        mask_cell = ""
        if row.get("mask") is not None:
            mask_cell = f"masks/{Path(row['path']).stem}.png"
            (directory / "masks").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(directory / mask_cell), row["mask"].astype(np.uint8) * 255)
        box = [str(v) for v in row["box"]] if row.get("box") is not None else ([""] * 4 if with_box else [])
        lines.append([row["path"], row["label"], row["split"], mask_cell, *box])
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / name).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(lines)
    return directory / name
