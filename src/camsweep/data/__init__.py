"""Datasets: the prepared split format and the generators/readers that produce it."""

from camsweep.data.imageset import ImageSet, load_split, save_split

__all__ = ["ImageSet", "load_split", "save_split"]
