"""Real-dataset sources by name: ``fetch`` makes sure the raw files are there, ``prepare`` turns them into splits.

``options`` is a config's ``datasets.<name>`` section with defaults filled; ``source: synthetic`` is not
handled here (camsweep.data.synthetic generates its images).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import NamedTuple

from camsweep.data import folders, medmnist, oxford_pet
from camsweep.data.imageset import ImageSet
from camsweep.data.raw import DatasetUnavailable


class Source(NamedTuple):
    fetch: Callable[[str, dict], dict]
    prepare: Callable[[str, dict, int], dict[str, ImageSet]]
    downloads: bool  # whether download: true can fetch missing files


SOURCES: dict[str, Source] = {
    "oxford_pet": Source(lambda name, options: oxford_pet.fetch(options), oxford_pet.prepare, True),
    "medmnist": Source(lambda name, options: medmnist.fetch(options), medmnist.prepare, True),
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


@contextlib.contextmanager
def _keyed(name: str) -> Iterator[None]:
    """Lead a ValueError's message by ``datasets.<name>`` (the config section to look at), unless it already is."""
    try:
        yield
    except DatasetUnavailable:
        raise
    except ValueError as error:
        if str(error).startswith(f"datasets.{name}"):
            raise
        raise ValueError(f"datasets.{name}: {error}") from error


def fetch(name: str, options: dict) -> dict:
    """Make sure the raw files of datasets.<name> exist (downloading when allowed); a JSON-able record of them.

    Raises :class:`DatasetUnavailable` (message: what failed, where, how to place the files, the layout), or a
    ValueError led by ``datasets.<name>`` for a layout or listing error (e.g. a class folder not in the list).
    """
    source = _source(name, options)
    with _keyed(name):
        return {"dataset": name, **source.fetch(name, options)}


def prepare(name: str, options: dict, seed: int) -> dict[str, ImageSet]:
    """train/val/test ImageSets of datasets.<name>; val carved from train with ``seed`` where the source has none.

    Every unusable file (unreadable, truncated, unsupported pixels, misfit mask) is named in one ValueError led by
    ``datasets.<name>``, before anything is written.
    """
    source = _source(name, options)
    with _keyed(name):
        splits = source.prepare(name, options, seed)
    return {split: splits[split] for split in ("train", "val", "test")}


__all__ = ["SOURCES", "DatasetUnavailable", "fetch", "prepare"]
