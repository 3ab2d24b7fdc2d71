"""S2's train-time augmentation: the training split extended with perturbed copies of itself.

Each copy is one ImageNet-C corruption (:mod:`camsweep.perturb`) at one severity of every training image.
Image i's copy for (perturbation p, severity s) is ``perturb.corrupt(image_i, p, s, seed_i)`` with
``seed_i = seeding.int_seed(seed, "augment", p, s, id_i)`` (``id_i`` as a Python ``str``), so it depends on
neither the order of the images, of the perturbations or severities, nor on the chunk size. These seeds
differ from the test-time ones (the perturb stage keys its draws by ``"perturb"`` and the dataset).
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


def extend_with_perturbations(
    split: ImageSet, perturbations: list[str], severities: list[int], seed: int, chunk: int = CHUNK
) -> ImageSet:
    """``split`` followed by one perturbed copy of it per (perturbation, severity), perturbations outer,
    severities inner: ``len(split) · (1 + P · S)`` images. Labels, masks and boxes are those of the
    original (the corruptions move no pixels); ids get :func:`copy_id`'s suffix so they stay unique; the
    clean images come first, unchanged. ``meta["augmentation"]`` records what was added."""
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
    conditions = [(name, severity) for name in perturbations for severity in severities]
    n, copies = len(split), 1 + len(conditions)
    record = {"perturbations": perturbations, "severities": severities, "seed": int(seed), "added": n * len(conditions)}
    images = np.empty((n * copies, *split.images.shape[1:]), np.uint8)  # filled in place: no concatenated temporaries
    images[:n] = split.images
    ids = [split.ids.astype(str)]
    for k, (name, severity) in enumerate(conditions, start=1):
        seeds = augmentation_seeds(split.ids, name, severity, seed)
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            images[k * n + start : k * n + stop] = perturb.corrupt_batch(
                split.images[start:stop], name, severity, seeds[start:stop]
            )
        ids.append(np.array([copy_id(i, name, severity) for i in ids[0]], dtype=str))

    def tiled(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else np.concatenate([array] * copies)

    return ImageSet(
        images=images, labels=tiled(split.labels), ids=np.concatenate(ids), class_names=split.class_names,
        masks=tiled(split.masks), boxes=tiled(split.boxes), meta={**split.meta, "augmentation": record},
    )
