"""The robustness study's train-time augmentation: the train split plus seeded perturbed copies, made per batch."""

import numpy as np
import pytest
import torch

from camsweep import augment, perturb, seeding
from camsweep.attention import AttentionObjective, AttentionSettings
from camsweep.data import synthetic
from camsweep.data.imageset import ImageSet
from camsweep.models import classifiers, training

PERTURBATIONS = ["gaussian_noise", "contrast", "motion_blur"]
SEVERITIES = [1, 4]
CONDITIONS = [(p, s) for p in PERTURBATIONS for s in SEVERITIES]


@pytest.fixture(scope="module")
def split():
    return synthetic.generate(synthetic.SyntheticSpec(image_size=32), 6, "train", seed=3)


@pytest.fixture(scope="module")
def augmented(split):
    return augment.AugmentedSplit(split, PERTURBATIONS, SEVERITIES, seed=11, chunk=4)


def eager(split: ImageSet, conditions: list[tuple[str, int]], seed: int) -> np.ndarray:
    """The documented copies, one image at a time: clean split first, then perturbations outer, severities inner."""
    copies = [split.images]
    for name, severity in conditions:
        copies.append(np.stack([
            perturb.corrupt(image, name, severity, seeding.int_seed(seed, "augment", name, severity, str(image_id)))
            for image, image_id in zip(split.images, split.ids.tolist(), strict=True)
        ]))
    return np.concatenate(copies)


def test_layout_count_ids_and_labels(split, augmented):
    n, copies = len(split), 1 + len(CONDITIONS)
    assert len(augmented) == n * copies == 42 and augmented.added == 36
    np.testing.assert_array_equal(augmented.images(np.arange(n)), split.images)  # the clean part first, untouched
    expected_ids = list(split.ids)
    for name, severity in CONDITIONS:
        expected_ids += [f"{i}@{name}/{severity}" for i in split.ids]
    assert augmented.ids.tolist() == expected_ids
    np.testing.assert_array_equal(augmented.labels, np.tile(split.labels, copies))
    assert augmented.record == {"perturbations": PERTURBATIONS, "severities": SEVERITIES, "seed": 11, "added": 36}


def test_lazy_images_equal_the_eager_copies_in_any_order_and_batching(split, augmented):
    reference = eager(split, CONDITIONS, seed=11)
    np.testing.assert_array_equal(augmented.images(np.arange(len(augmented))), reference)
    order = np.random.default_rng(0).permutation(len(augmented))
    for batch in np.array_split(order, 5):  # mixed conditions per batch, as a shuffled epoch asks for them
        np.testing.assert_array_equal(augmented.images(batch), reference[batch])
    single = augment.AugmentedSplit(split, PERTURBATIONS, SEVERITIES, seed=11, chunk=1)
    np.testing.assert_array_equal(single.images(order), reference[order])
    # The first copy is gaussian_noise at severity 1 (σ 0.08), written out independently of camsweep.perturb.
    n = len(split)
    for i, image_id in enumerate(split.ids.tolist()):
        draws = np.random.default_rng(seeding.int_seed(11, "augment", "gaussian_noise", 1, image_id)).standard_normal((32, 32, 3))
        by_hand = (np.clip(split.images[i] / 255.0 + 0.08 * draws, 0, 1) * 255).astype(np.uint8)
        np.testing.assert_array_equal(augmented.images(np.array([n + i]))[0], by_hand)
    # Reordered images and conditions: every id still gets the same pixels.
    reordered = augment.AugmentedSplit(split.subset(np.arange(n)[::-1]), PERTURBATIONS[::-1], SEVERITIES[::-1], seed=11)
    by_id = dict(zip(reordered.ids.tolist(), reordered.images(np.arange(len(reordered))), strict=True))
    for image_id, image in zip(augmented.ids.tolist(), reference, strict=True):
        np.testing.assert_array_equal(by_id[image_id], image)
    other = augment.AugmentedSplit(split, ["gaussian_noise"], [1], seed=12)
    assert not np.array_equal(other.images(np.arange(n, 2 * n)), reference[n : 2 * n])


def test_memory_holds_the_clean_split_only(split, augmented):
    assert augmented.split is split
    held = [value for value in vars(augmented).values() if isinstance(value, np.ndarray)]
    assert sum(array.nbytes for array in held) < split.images.nbytes  # labels and seeds only
    assert not any(array.dtype == np.uint8 for array in held)


def test_training_on_lazy_copies_equals_training_on_eager_ones(split):
    """Same batches (order, content, flips) as training on the materialised split: bit-identical weights."""
    lazy = augment.AugmentedSplit(split, ["gaussian_noise", "contrast"], [3], seed=5)
    conditions = [("gaussian_noise", 3), ("contrast", 3)]
    copies = 1 + len(conditions)
    materialised = ImageSet(
        images=eager(split, conditions, seed=5), labels=np.tile(split.labels, copies), ids=lazy.ids,
        class_names=split.class_names, masks=np.tile(split.masks, (copies, 1, 1)), boxes=np.tile(split.boxes, (copies, 1)),
    )
    spec = classifiers.ClassifierSpec("resnet18", len(split.class_names), stem="compact", last_stride=1, width=0.25)
    settings = training.TrainSettings(epochs=2, batch_size=4)
    attention = AttentionSettings("layer4", ce_weight=0.5)
    for objective_of in (lambda masks: None, lambda masks: AttentionObjective(attention, masks)):
        runs = [
            training.train(spec, images, split, settings, seed=0, progress=False, objective=objective_of(masks))
            for images, masks in ((lazy, split.masks), (materialised, materialised.masks))
        ]
        (lazy_model, lazy_history), (eager_model, eager_history) = runs
        for key, value in lazy_model.state_dict().items():
            assert torch.equal(value, eager_model.state_dict()[key]), key
        strip = lambda history: [{k: v for k, v in row.items() if k != "seconds"} for row in history]  # noqa: E731
        assert strip(lazy_history) == strip(eager_history)


def test_bad_arguments(split):
    with pytest.raises(ValueError, match="unknown perturbation 'fog'"):
        augment.AugmentedSplit(split, ["fog"], [1], seed=0)
    with pytest.raises(ValueError, match=r"severities \[6\]"):
        augment.AugmentedSplit(split, ["contrast"], [1, 6], seed=0)
    with pytest.raises(ValueError, match="repeat an entry"):
        augment.AugmentedSplit(split, ["contrast", "contrast"], [1], seed=0)
