"""Real-dataset sources by name: ``fetch`` makes sure the raw files are there, ``prepare`` turns them into splits.

``options`` is a config's ``datasets.<name>`` section with defaults filled; ``source: synthetic`` is not
handled here (camsweep.data.synthetic generates its images).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from camsweep.data import folders, medmnist, oxford_pet
from camsweep.data.imageset import ImageSet
from camsweep.data.raw import DatasetUnavailable


class Source(NamedTuple):
    fetch: Callable[[dict], dict]
    prepare: Callable[[str, dict, int], dict[str, ImageSet]]
    downloads: bool  # whether download: true can fetch missing files


SOURCES: dict[str, Source] = {
    "oxford_pet": Source(oxford_pet.fetch, oxford_pet.prepare, True),
    "medmnist": Source(medmnist.fetch, medmnist.prepare, True),
    "folder": Source(folders.fetch_folder, folders.prepare_folder, False),
    "manifest": Source(folders.fetch_manifest, folders.prepare_manifest, False),
}


def _source(name: str, options: dict) -> Source:
    source = options["source"]
    if source not in SOURCES:
        raise ValueError(f"datasets.{name}.source: {source!r} is not a real-data source {sorted(SOURCES)}")
    if options.get("root") is None:
        raise ValueError(f"datasets.{name}.root: source {source} needs the folder (manifest: the CSV) of its raw files")
    return SOURCES[source]


def fetch(name: str, options: dict) -> dict:
    """Make sure the raw files of datasets.<name> exist (downloading when allowed); a JSON-able record of them.

    Raises :class:`DatasetUnavailable` (message: what failed, where, how to place the files, the layout).
    """
    return {"dataset": name, **_source(name, options).fetch(options)}


def prepare(name: str, options: dict, seed: int) -> dict[str, ImageSet]:
    """train/val/test ImageSets of datasets.<name>; val carved from train with ``seed`` where the source has none."""
    splits = _source(name, options).prepare(name, options, seed)
    return {split: splits[split] for split in ("train", "val", "test")}


__all__ = ["SOURCES", "DatasetUnavailable", "fetch", "prepare"]
