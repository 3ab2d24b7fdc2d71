"""The robustness study's train-time augmentation: the training split extended with perturbed copies of itself, made per batch.

Each copy is one ImageNet-C corruption (:mod:`camsweep.perturb`) at one severity of every training image.
Image i's copy for (perturbation p, severity s) is ``perturb.corrupt(image_i, p, s, seed_i)`` with
``seed_i = seeding.int_seed(seed, "augment", p, s, id_i)`` (``id_i`` as a Python ``str``), so it depends on
neither the order of the images, of the perturbations or severities, nor on the batch it is made in. These
seeds differ from the test-time ones (the perturb stage keys its draws by ``"perturb"`` and the dataset).
The copies are made when a batch asks for them, never all at once: memory holds the clean split only (all
copies of DermaMNIST at 224 px would take about 27 GB), at the price of corrupting each copy once per epoch.
"""

from __future__ import annotations

import numpy as np

from camsweep import perturb, seeding
from camsweep.data.imageset import ImageSet

CHUNK = 64  # images corrupted at once: bounds the float64 intermediates (~8× the uint8 chunk, a few per corruption)


def copy_id(image_id: str, perturbation: str, severity: int) -> str:
    """Id of the perturbed copy of an image, e.g. ``img_00001@gaussian_noise/3``."""
    return f"{image_id}@{perturbation}/{severity}"


def augmentation_seeds(ids: np.ndarray, perturbation: str, severity: int, seed: int) -> list[int]:
    return [seeding.int_seed(seed, "augment", perturbation, int(severity), str(image_id)) for image_id in ids]


class AugmentedSplit:
    """``split`` followed by one perturbed copy of it per (perturbation, severity), perturbations outer,
    severities inner: ``len(split) · (1 + P · S)`` items, item i showing image i mod len(split). The clean
    images come first, unchanged; labels are those of the original (the corruptions move no pixels, so its
    masks and boxes hold too); :attr:`ids` get :func:`copy_id`'s suffix so they stay unique. Pixels are
    made by :meth:`images`, per batch (a :class:`camsweep.models.training.TrainImages`)."""

    def __init__(self, split: ImageSet, perturbations: list[str], severities: list[int], seed: int, chunk: int = CHUNK):
        perturbations, severities = list(perturbations), [int(s) for s in severities]
        for name in perturbations:
            perturb.get(name)  # unknown names fail here, with the valid ones listed
        bad = [s for s in severities if s not in perturb.SEVERITIES]
        if bad:
            raise ValueError(f"augmentation severities {bad} are not in {list(perturb.SEVERITIES)}")
        for what, values in (("perturbations", perturbations), ("severities", severities)):
            if len(set(values)) != len(values):
                raise ValueError(f"augmentation {what} {values} repeat an entry (the copies' ids would clash)")
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        self.split, self.chunk = split, chunk
        self.conditions = [(name, severity) for name in perturbations for severity in severities]
        self.labels = np.concatenate([split.labels] * (1 + len(self.conditions)))
        # Seeds of every copy, (conditions, images): hashed once, not once per epoch.
        self._seeds = np.array(
            [augmentation_seeds(split.ids, name, severity, seed) for name, severity in self.conditions], np.int64
        ).reshape(len(self.conditions), len(split))
        self.record = {"perturbations": perturbations, "severities": severities, "seed": int(seed), "added": self.added}

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def added(self) -> int:
        """Number of perturbed copies."""
        return len(self.split) * len(self.conditions)

    @property
    def ids(self) -> np.ndarray:
        clean = self.split.ids.astype(str)
        copies = [np.array([copy_id(i, name, severity) for i in clean], dtype=str) for name, severity in self.conditions]
        return np.concatenate([clean, *copies])

    def images(self, index: np.ndarray) -> np.ndarray:
        """uint8 (len(index), H, W, 3): the items at ``index``, their copies corrupted now."""
        copy, image = np.divmod(np.asarray(index, dtype=np.int64), len(self.split))
        out = self.split.images[image]
        for k in np.unique(copy[copy > 0]):
            name, severity = self.conditions[k - 1]
            at = np.flatnonzero(copy == k)
            for start in range(0, len(at), self.chunk):
                part = at[start : start + self.chunk]
                out[part] = perturb.corrupt_batch(
                    self.split.images[image[part]], name, severity, self._seeds[k - 1, image[part]].tolist()
                )
        return out
