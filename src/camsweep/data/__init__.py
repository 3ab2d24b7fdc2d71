"""Datasets: the prepared split format and the generators/readers that produce it."""

from camsweep.data.imageset import ImageSet, check_ids, load_ids, load_images, load_split, save_split

__all__ = ["ImageSet", "check_ids", "load_ids", "load_images", "load_split", "save_split"]
