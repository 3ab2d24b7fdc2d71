"""Perturbation speed: camsweep's batched corruptions vs imagecorruptions called per image.

Prints, per corruption, images/second of both and the ratio, measured in the same run on the same
images (the default synthetic test split size and resolution). Usage: python benchmarks/perturb.py
"""

import time
import warnings

import numpy as np

from camsweep import perturb
from camsweep.data import synthetic

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import imagecorruptions


def best_of(repeats, function, *args):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def reference(images, name, severity, seeds):
    for seed, image in zip(seeds, images, strict=True):
        np.random.seed(seed)
        imagecorruptions.corrupt(image, severity=severity, corruption_name=name)


def main(count=240, size=56, severity=3, repeats=3):
    images = synthetic.generate(synthetic.SyntheticSpec(image_size=size), count, "test", seed=0).images
    seeds = list(range(count))
    print(f"{count} images of {size}×{size}, severity {severity}, best of {repeats}")
    print(f"{'corruption':16s} {'camsweep img/s':>15s} {'imagecorruptions img/s':>23s} {'ratio':>7s}")
    for name in perturb.NAMES:
        ours = best_of(repeats, perturb.corrupt_batch, images, name, severity, seeds)
        theirs = best_of(repeats, reference, images, name, severity, seeds)
        print(f"{name:16s} {count / ours:15.0f} {count / theirs:23.0f} {theirs / ours:6.1f}×")


if __name__ == "__main__":
    main()
