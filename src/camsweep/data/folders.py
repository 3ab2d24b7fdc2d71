"""User image files: a class-per-folder tree (``folder``) or a CSV list (``manifest``).

folder: ``{root}/{split}/{class}/*.{png,jpg,...}``, optional mask tree ``{masks}/{split}/{class}/{stem}.png``.
manifest: a CSV with ``path,label,split`` and optional ``mask`` and ``x_min,y_min,x_max,y_max`` columns.
Either way val is optional (carved from train by ``val_fraction``) and ids are the image paths without
extension, with ``/`` separators.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path, PurePath

from camsweep.data import raw
from camsweep.data.imageset import ImageSet
from camsweep.spelling import did_you_mean

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
BOX_COLUMNS = ("x_min", "y_min", "x_max", "y_max")
FOLDER_LAYOUT = """\
{root}/
├── train/
│   ├── <class A>/    *.png | *.jpg | *.jpeg | *.bmp | *.tif | *.tiff
│   └── <class B>/
├── val/              optional (else val_fraction of train)
└── test/
    ├── <class A>/
    └── <class B>/"""
MANIFEST_LAYOUT = """\
{root}              CSV, header path,label,split[,mask][,x_min,y_min,x_max,y_max]
                    e.g. images/cat_1.jpg,cat,train,masks/cat_1.png,,,,
<paths relative to the CSV's folder>"""


log = logging.getLogger(__name__)


def _id(path: PurePath) -> str:
    return path.with_suffix("").as_posix()


def _carve(splits: dict[str, list[raw.Item]], options: dict, seed: int, name: str) -> dict[str, list[raw.Item]]:
    """Fill an empty val from train; every split must then hold images, ids unique across splits."""
    if not splits["val"]:
        train, val = raw.carve_val([item.id for item in splits["train"]], options["val_fraction"], seed, name)
        splits["val"] = [splits["train"][i] for i in val]
        splits["train"] = [splits["train"][i] for i in train]
    seen: dict[str, str] = {}
    for split, items in splits.items():
        if not items:
            raise ValueError(f"datasets.{name}: the {split} split holds no images")
        for item in items:
            if item.id in seen:
                raise ValueError(f"image id {item.id!r} appears twice: {seen[item.id]} and {item.where()}")
            seen[item.id] = item.where()
    return splits


# ----------------------------------------------------------------------------------------------- folder


def _folder_unavailable(problem: str, root: Path) -> raw.DatasetUnavailable:
    how = "put one folder per class under train/ and test/ (and optionally val/) of the root"
    return raw.DatasetUnavailable(problem, root, how, FOLDER_LAYOUT.format(root=root))


def _class_dirs(split_dir: Path) -> list[Path]:
    return sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)


def _other_files(folder: Path) -> list[Path]:
    """Files a class folder holds besides images (hidden ones, e.g. .DS_Store, not counted)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in EXTENSIONS)


def folder_items(options: dict, name: str = "<name>") -> tuple[dict[str, list[raw.Item]], list[str]]:
    """Items per split (val empty when absent) and the class names, after the layout checks."""
    root = Path(options["root"])
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise _folder_unavailable(f"image folder dataset: no {root / split}/", root)
    classes = options["folder"]["classes"] or [d.name for d in _class_dirs(root / "train")]
    if not classes:
        raise _folder_unavailable(f"image folder dataset: no class folders in {root / 'train'}/", root)
    masks = options["folder"]["masks"]
    splits: dict[str, list[raw.Item]] = {}
    skipped: list[Path] = []
    for split in raw.SPLITS:
        splits[split] = []
        if not (root / split).is_dir():
            continue
        for class_dir in _class_dirs(root / split):
            if class_dir.name not in classes:
                raise ValueError(
                    f"datasets.{name}.folder.classes: class folder {class_dir} is not in the class list {classes}"
                    f"{did_you_mean(class_dir.name, classes)} (names are case-sensitive); add {class_dir.name!r} to "
                    f"datasets.{name}.folder.classes, or move the folder out of {root / split}"
                )
            images, others = _images_in(class_dir), _other_files(class_dir)
            if not images and others:
                raise ValueError(
                    f"class folder {class_dir} holds no image with a known extension {list(EXTENSIONS)} "
                    f"(found e.g. {[p.name for p in others[:3]]}); convert the files to PNG or JPEG, or remove the folder"
                )
            skipped += others
            for image in images:
                relative = image.relative_to(root)
                mask = Path(masks) / relative.with_suffix(".png") if masks is not None else None
                if mask is not None and not mask.is_file():
                    raise ValueError(
                        f"mask file {mask} for image {image} does not exist; datasets.{name}.folder.masks needs one "
                        f"PNG per image at {{masks}}/{{split}}/{{class}}/{{stem}}.png (nonzero = foreground)"
                    )
                splits[split].append(raw.Item(id=_id(relative), image=image, label=classes.index(class_dir.name), mask=mask))
    if skipped:
        log.warning("datasets.%s: skipped %d files that are not images %s (e.g. %s)", name, len(skipped), list(EXTENSIONS),
                    [str(p) for p in skipped[:5]])
    return splits, list(classes)


def prepare_folder(name: str, options: dict, seed: int) -> dict[str, ImageSet]:
    splits, classes = folder_items(options, name)
    splits = _carve(splits, options, seed, name)
    return raw.assemble(splits, classes, options["image_size"], {"source": "folder"})


def fetch_folder(name: str, options: dict) -> dict:
    splits, _ = folder_items(options, name)
    files = [item.image for items in splits.values() for item in items]
    files += [item.mask for items in splits.values() for item in items if item.mask is not None]
    return {"source": "folder", "root": str(options["root"]), "files": len(files),
            "bytes": sum(path.stat().st_size for path in files)}


# ----------------------------------------------------------------------------------------------- manifest


def _manifest_unavailable(problem: str, csv_path: Path) -> raw.DatasetUnavailable:
    how = "write a CSV listing every image (paths relative to the CSV's folder) at the configured root"
    return raw.DatasetUnavailable(problem, csv_path, how, MANIFEST_LAYOUT.format(root=csv_path))


def _box(row: dict, where: str) -> tuple[int, int, int, int] | None:
    cells = [(row.get(column) or "").strip() for column in BOX_COLUMNS]
    if not any(cells):
        return None
    try:
        return tuple(int(cell) for cell in cells)
    except ValueError:
        raise ValueError(f"{where}: box {dict(zip(BOX_COLUMNS, cells, strict=True))} needs four integer pixel coordinates") from None


def manifest_items(options: dict, name: str = "<name>") -> tuple[dict[str, list[raw.Item]], list[str]]:
    """Items per split (val empty when the CSV lists none) and the class names."""
    csv_path = Path(options["root"])
    if not csv_path.is_file():
        raise _manifest_unavailable(f"manifest CSV {csv_path} does not exist", csv_path)
    with csv_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "label", "split"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{csv_path}: missing columns {sorted(missing)} (header: {reader.fieldnames})")
        present = [c for c in BOX_COLUMNS if c in reader.fieldnames]
        if present and len(present) != 4:
            raise ValueError(f"{csv_path}: box columns must be all of {list(BOX_COLUMNS)}, got {present}")
        rows = [(reader.line_num, row) for row in reader]
    labels = [(row["label"] or "").strip() for _, row in rows]
    classes = options["manifest"]["classes"] or sorted(set(labels))
    base = csv_path.parent
    splits: dict[str, list[raw.Item]] = {split: [] for split in raw.SPLITS}
    for (line, row), label in zip(rows, labels, strict=True):
        where = f"{csv_path} line {line}"
        if label not in classes:
            raise ValueError(
                f"{where}: label {label!r} is not in the class list {classes} (datasets.{name}.manifest.classes)"
                f"{did_you_mean(label, classes)}; correct the label, or add it to datasets.{name}.manifest.classes"
            )
        split = (row["split"] or "").strip()
        if split not in splits:
            raise ValueError(f"{where}: split {split!r} is not one of {list(raw.SPLITS)}{did_you_mean(split, raw.SPLITS)}")
        path = PurePath((row["path"] or "").strip())
        mask = (row.get("mask") or "").strip()
        item = raw.Item(id=_id(path), image=base / path, label=classes.index(label), mask=base / mask if mask else None,
                        box=_box(row, where), origin=where)
        for file in (item.image, item.mask):
            if file is not None and not file.is_file():
                raise _manifest_unavailable(f"{where}: file {file} does not exist", csv_path)
        splits[split].append(item)
    return splits, list(classes)


def prepare_manifest(name: str, options: dict, seed: int) -> dict[str, ImageSet]:
    splits, classes = manifest_items(options, name)
    splits = _carve(splits, options, seed, name)
    return raw.assemble(splits, classes, options["image_size"], {"source": "manifest"})


def fetch_manifest(name: str, options: dict) -> dict:
    splits, _ = manifest_items(options, name)
    files = {Path(options["root"])} | {f for items in splits.values() for item in items for f in (item.image, item.mask) if f}
    return {"source": "manifest", "root": str(options["root"]), "files": len(files),
            "bytes": sum(path.stat().st_size for path in files)}
