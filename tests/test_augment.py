"""S2's train-time augmentation: the train split plus seeded perturbed copies."""

import numpy as np
import pytest

from camsweep import augment, perturb, regions, seeding
from camsweep.data import synthetic
from camsweep.data.imageset import ImageSet

PERTURBATIONS = ["gaussian_noise", "contrast", "motion_blur"]
SEVERITIES = [1, 4]


@pytest.fixture(scope="module")
def split():
    return synthetic.generate(synthetic.SyntheticSpec(image_size=32), 6, "train", seed=3)


@pytest.fixture(scope="module")
def extended(split):
    return augment.extend_with_perturbations(split, PERTURBATIONS, SEVERITIES, seed=11, chunk=4)


def test_layout_count_ids_and_ground_truth(split, extended):
    n, copies = len(split), 1 + len(PERTURBATIONS) * len(SEVERITIES)
    assert len(extended) == n * copies == 42
    # The clean part comes first, untouched.
    np.testing.assert_array_equal(extended.images[:n], split.images)
    assert extended.ids[:n].tolist() == split.ids.tolist()
    # Perturbations outer, severities inner; ids suffixed; labels, masks, boxes repeated.
    expected_ids = list(split.ids)
    for name in PERTURBATIONS:
        for severity in SEVERITIES:
            expected_ids += [f"{i}@{name}/{severity}" for i in split.ids]
    assert extended.ids.tolist() == expected_ids
    assert len(set(extended.ids.tolist())) == len(extended)
    np.testing.assert_array_equal(extended.labels, np.tile(split.labels, copies))
    np.testing.assert_array_equal(extended.masks, np.tile(split.masks, (copies, 1, 1)))
    np.testing.assert_array_equal(extended.boxes, regions.boxes_from_masks(extended.masks))
    assert extended.class_names == split.class_names
    assert extended.meta["augmentation"] == {
        "perturbations": PERTURBATIONS, "severities": SEVERITIES, "seed": 11, "added": 36,
    }


def test_each_copy_is_perturb_corrupt_with_its_own_seed(split, extended):
    n = len(split)
    for k, (name, severity) in enumerate([(p, s) for p in PERTURBATIONS for s in SEVERITIES], start=1):
        for i, image_id in enumerate(split.ids.tolist()):
            seed = seeding.int_seed(11, "augment", name, severity, image_id)
            np.testing.assert_array_equal(extended.images[k * n + i], perturb.corrupt(split.images[i], name, severity, seed))
    # The first copy is gaussian_noise at severity 1 (σ 0.08), written out independently of camsweep.perturb.
    for i, image_id in enumerate(split.ids.tolist()):
        draws = np.random.default_rng(seeding.int_seed(11, "augment", "gaussian_noise", 1, image_id)).standard_normal((32, 32, 3))
        by_hand = (np.clip(split.images[i] / 255.0 + 0.08 * draws, 0, 1) * 255).astype(np.uint8)
        np.testing.assert_array_equal(extended.images[n + i], by_hand)
    assert not np.array_equal(extended.images[n : 2 * n], split.images)


def test_independent_of_order_chunking_and_repeatable(split, extended):
    again = augment.extend_with_perturbations(split, PERTURBATIONS, SEVERITIES, seed=11, chunk=64)
    np.testing.assert_array_equal(again.images, extended.images)
    # Reversed images and reversed condition order: every id still gets the same pixels.
    reordered = augment.extend_with_perturbations(split.subset(np.arange(len(split))[::-1]), PERTURBATIONS[::-1],
                                                  SEVERITIES[::-1], seed=11, chunk=1)
    by_id = dict(zip(reordered.ids.tolist(), reordered.images, strict=True))
    for image_id, image in zip(extended.ids.tolist(), extended.images, strict=True):
        np.testing.assert_array_equal(by_id[image_id], image)
    other = augment.extend_with_perturbations(split, ["gaussian_noise"], [1], seed=12)
    assert not np.array_equal(other.images[len(split):], extended.images[len(split) : 2 * len(split)])


def test_without_masks_and_empty_and_bad_arguments(split):
    plain = ImageSet(images=split.images, labels=split.labels, ids=split.ids, class_names=split.class_names)
    out = augment.extend_with_perturbations(plain, ["brightness"], [5], seed=0)
    assert len(out) == 12 and out.masks is None and out.boxes is None
    empty = split.subset(np.zeros(len(split), bool))
    assert len(augment.extend_with_perturbations(empty, PERTURBATIONS, SEVERITIES, seed=0)) == 0
    with pytest.raises(ValueError, match="unknown perturbation 'fog'"):
        augment.extend_with_perturbations(split, ["fog"], [1], seed=0)
    with pytest.raises(ValueError, match=r"severities \[6\]"):
        augment.extend_with_perturbations(split, ["contrast"], [1, 6], seed=0)
    with pytest.raises(ValueError, match="repeat an entry"):
        augment.extend_with_perturbations(split, ["contrast", "contrast"], [1], seed=0)
