"""ROC-AUC bootstrap speed: camsweep's rank-based AUC, vectorised over resamples, vs scikit-learn's
roc_auc_score called once per resample (same resamples, same numbers).

Usage: python benchmarks/auc_bootstrap.py
"""

import time

import numpy as np
from sklearn.metrics import roc_auc_score

from camsweep.metrics import classification


def main(n_images=240, n_classes=4, n_resamples=1000):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, n_classes, n_images)
    probs = rng.dirichlet(np.ones(n_classes), n_images)
    index = rng.integers(0, n_images, (n_resamples, n_images))

    start = time.perf_counter()
    ours = classification.roc_auc(labels[index], probs[index])
    ours_seconds = time.perf_counter() - start

    start = time.perf_counter()
    reference = np.array([roc_auc_score(labels[i], probs[i], multi_class="ovr") for i in index])
    reference_seconds = time.perf_counter() - start

    assert np.allclose(ours, reference), "the two implementations disagree"
    print(f"{n_resamples} bootstrap resamples of {n_images} images, {n_classes} classes")
    print(f"camsweep (vectorised ranks): {ours_seconds * 1000:8.1f} ms")
    print(f"scikit-learn (per resample): {reference_seconds * 1000:8.1f} ms")
    print(f"ratio: {reference_seconds / ours_seconds:.1f}× faster, identical values")


if __name__ == "__main__":
    main()
