"""Oxford-IIIT Pet through torchvision's loader: images, trimap masks, breed labels, the box-vs-mask study's subsets.

torchvision (``OxfordIIITPet``) checks and downloads the files and parses the official lists; camsweep then
decodes the listed JPEGs and trimaps with OpenCV (``camsweep.data.raw``). Foreground = pet ∪ border.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from camsweep.data import raw
from camsweep.data.imageset import ImageSet

PET, BACKGROUND, BORDER = 1, 2, 3  # trimap codes
# The 37 breeds as id prefixes, in torchvision's class order (class id = position + 1; cats are capitalised).
BREEDS = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "Bengal", "Birman",
    "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau", "english_cocker_spaniel", "english_setter",
    "german_shorthaired", "great_pyrenees", "havanese", "japanese_chin", "keeshond", "leonberger", "Maine_Coon",
    "miniature_pinscher", "newfoundland", "Persian", "pomeranian", "pug", "Ragdoll", "Russian_Blue", "saint_bernard",
    "samoyed", "scottish_terrier", "shiba_inu", "Siamese", "Sphynx", "staffordshire_bull_terrier", "wheaten_terrier",
    "yorkshire_terrier",
)
URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/"
LAYOUT = """\
{root}/
└── oxford-iiit-pet/
    ├── images/               Abyssinian_1.jpg, Abyssinian_10.jpg, ... (7390 JPEGs)
    └── annotations/
        ├── trainval.txt      lines "Abyssinian_100 1 1 1": id, class id 1-37, species, breed id
        ├── test.txt
        └── trimaps/          Abyssinian_1.png, ... (1 = pet, 2 = background, 3 = border)"""
HOW = (f"download images.tar.gz and annotations.tar.gz from {URL} and extract both into {{root}}/oxford-iiit-pet/ "
       "(or set download: true on a machine with network access)")


def trimap_to_mask(trimap: np.ndarray) -> np.ndarray:
    """Foreground of a trimap: the pet and its border (codes 1 and 3)."""
    trimap = np.asarray(trimap)
    if trimap.ndim == 3:
        trimap = trimap[:, :, 0]
    return (trimap == PET) | (trimap == BORDER)


def read_trimap(path: Path) -> np.ndarray:
    """The foreground of a trimap file; :class:`raw.BadFile` if it holds codes other than 1, 2, 3 (a binary mask or
    a colour image in its place would otherwise read as an empty or arbitrary mask)."""
    trimap = raw.read_raw(path)
    if trimap.ndim == 3:
        trimap = trimap[:, :, 0]
    codes = np.unique(trimap)
    unknown = [int(c) for c in codes if c not in (PET, BACKGROUND, BORDER)]
    if unknown:
        raise raw.BadFile(
            f"trimap {path} holds values {unknown[:10]} besides {PET} (pet), {BACKGROUND} (background), {BORDER} "
            f"(border): it is no Oxford-IIIT Pet trimap",
            "re-extract annotations.tar.gz (annotations/trimaps/) from " + URL,
        )
    return trimap_to_mask(trimap)


def unavailable(problem: str, root: str | Path) -> raw.DatasetUnavailable:
    return raw.DatasetUnavailable(problem, root, HOW.format(root=root), LAYOUT.format(root=root))


def load_split(root: str | Path, split: str, download: bool = False):
    """torchvision's OxfordIIITPet for ``split`` (trainval | test); DatasetUnavailable if files are missing."""
    from torchvision.datasets import OxfordIIITPet

    folders = [Path(root) / "oxford-iiit-pet" / sub for sub in ("images", "annotations", "annotations/trimaps")]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing and not download:
        raise unavailable(f"Oxford-IIIT Pet not found (missing {', '.join(missing)}) and download is off", root)
    if download:
        Path(root).mkdir(parents=True, exist_ok=True)
    try:
        dataset = OxfordIIITPet(root, split=split, target_types=("category", "segmentation"), download=download)
    except Exception as error:  # no network (URLError), bad archive, missing list file, ...
        action = "download failed" if download else "files incomplete"
        raise unavailable(f"Oxford-IIIT Pet {split}: {action}: {type(error).__name__}: {error}", root) from error
    if not folders[2].is_dir():
        raise unavailable(f"Oxford-IIIT Pet: no trimaps folder {folders[2]}", root)
    return dataset


def listing(dataset) -> list[dict]:
    """One record per listed image: id, breed prefix, number, 0-based class id, image and trimap paths."""
    try:
        images, segs, labels = dataset._images, dataset._segs, dataset._labels
    except AttributeError as error:  # torchvision has no public path list; written against 0.29's attributes
        raise RuntimeError(f"torchvision's OxfordIIITPet no longer exposes _images/_segs/_labels: {error}") from error
    # torchvision names classes in label order over the labels present in the list.
    names = dict(zip(sorted(set(labels)), dataset.classes, strict=True))
    records = []
    for image, seg, label in zip(images, segs, labels, strict=True):
        breed, number = image.stem.rsplit("_", 1)
        records.append({"id": image.stem, "breed": breed, "number": int(number), "class": label,
                        "name": names[label], "image": image, "trimap": seg})
    return records


def check_breeds(records: list[dict], breeds: list[str] | None) -> None:
    """ValueError listing the valid id prefixes if a configured breed is not in the lists."""
    known = sorted({r["breed"] for r in records}, key=str.lower)
    unknown = [b for b in breeds or () if b not in known]
    if unknown:
        raise ValueError(f"oxford_pet.breeds: unknown breeds {unknown}; valid id prefixes: {known}")


def select(records: list[dict], breeds: list[str] | None, numbers: list[int] | None, per_breed: int | None) -> list[dict]:
    """The records of ``breeds`` with number in the inclusive ``numbers`` range, the first ``per_breed`` of each.

    Sorted by (class, number): the order does not depend on the list files' line order.
    """
    chosen = [r for r in records if (breeds is None or r["breed"] in breeds)
              and (numbers is None or numbers[0] <= r["number"] <= numbers[1])]
    chosen.sort(key=lambda r: (r["class"], r["number"]))
    if per_breed is None:
        return chosen
    seen: Counter[str] = Counter()
    kept = []
    for record in chosen:
        seen[record["breed"]] += 1
        if seen[record["breed"]] <= per_breed:
            kept.append(record)
    return kept


def _items(records: list[dict], relabel: dict[int, int]) -> list[raw.Item]:
    return [raw.Item(id=r["id"], image=r["image"], label=relabel[r["class"]], mask=r["trimap"], mask_reader=read_trimap)
            for r in records]


def prepare(name: str, options: dict, seed: int) -> dict[str, ImageSet]:
    """train/val/test of the configured Pet subset (``options`` = datasets.<name>, defaults filled)."""
    pet, root = options["oxford_pet"], options["root"]
    lists = {split: listing(load_split(root, split, options["download"])) for split in ("trainval", "test")}
    every = lists["trainval"] + lists["test"]
    check_breeds(every, pet["breeds"])
    # per_breed counts over the images that end up together: both lists for test: all, each list for official.
    pools = {"test": every} if pet["test"] == "all" else lists
    picked = {split: select(records, pet["breeds"], pet["numbers"], pet["per_breed"]) for split, records in pools.items()}
    if not any(picked.values()):
        raise ValueError(f"datasets.{name}.oxford_pet selects no images (breeds {pet['breeds']}, numbers {pet['numbers']})")
    # Classes are the selected breeds (not only those with images left), in torchvision's order.
    classes = sorted({(r["class"], r["name"]) for r in every if pet["breeds"] is None or r["breed"] in pet["breeds"]})
    relabel = {cls: index for index, (cls, _) in enumerate(classes)}
    class_names = [n for _, n in classes]
    if pet["test"] == "all":
        splits = {"train": [], "val": [], "test": _items(picked["test"], relabel)}
    else:
        trainval = _items(picked["trainval"], relabel)
        train, val = raw.carve_val([item.id for item in trainval], options["val_fraction"], seed, name)
        splits = {"train": [trainval[i] for i in train], "val": [trainval[i] for i in val],
                  "test": _items(picked["test"], relabel)}
    meta = {"source": "oxford_pet", "test": pet["test"]}
    return raw.assemble(splits, class_names, options["image_size"], meta, with_masks=True)


def fetch(options: dict) -> dict:
    root = options["root"]
    for split in ("trainval", "test"):
        load_split(root, split, options["download"])
    count, size = raw.list_files(Path(root) / "oxford-iiit-pet")
    return {"source": "oxford_pet", "root": str(root), "files": count, "bytes": size}
