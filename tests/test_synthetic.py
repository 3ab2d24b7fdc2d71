import numpy as np
import pytest

from camsweep import regions
from camsweep.data import synthetic


def test_same_seed_same_bytes_and_images_do_not_depend_on_count():
    spec = synthetic.SyntheticSpec(image_size=40)
    a = synthetic.generate(spec, 6, "train", seed=3)
    b = synthetic.generate(spec, 6, "train", seed=3)
    assert a.images.tobytes() == b.images.tobytes() and a.masks.tobytes() == b.masks.tobytes()
    assert not np.array_equal(a.images, synthetic.generate(spec, 6, "train", seed=4).images)
    assert not np.array_equal(a.images, synthetic.generate(spec, 6, "test", seed=3).images)
    # Image i comes from its own generator: the label permutation changes with the count, so compare
    # render() directly for a fixed label.
    from camsweep import seeding

    first, _, _ = synthetic.render(spec, 2, seeding.rng(3, "synthetic", "train", 5))
    again, _, _ = synthetic.render(spec, 2, seeding.rng(3, "synthetic", "train", 5))
    assert np.array_equal(first, again)


def test_classes_are_balanced_and_boxes_are_tight_boxes_of_masks():
    spec = synthetic.SyntheticSpec(image_size=48, classes=("circle", "square", "triangle"))
    split = synthetic.generate(spec, 10, "test", seed=0)
    assert sorted(np.bincount(split.labels).tolist()) == [3, 3, 4]
    assert split.class_names == ("circle", "square", "triangle")
    np.testing.assert_array_equal(split.boxes, regions.boxes_from_masks(split.masks))
    areas = split.masks.sum(axis=(1, 2))
    assert (areas > 0.04 * 48 * 48).all()  # a real object in every image


def test_shape_areas_match_their_geometry():
    # Circle of circumradius r: area πr², perimeter 2πr; square: 2r², 4√2·r; triangle: (3√3/4)·r², 3√3·r.
    # Rasterised without anti-aliasing (boundary pixels included), the pixel count lies within one
    # boundary ring of the exact area.
    r = 20.0
    geometry = {"circle": (np.pi * r**2, 2 * np.pi * r), "square": (2 * r**2, 4 * np.sqrt(2) * r),
                "triangle": (3 * np.sqrt(3) / 4 * r**2, 3 * np.sqrt(3) * r)}
    for shape, (area, perimeter) in geometry.items():
        canvas = np.zeros((64, 64), np.uint8)
        synthetic._fill(canvas, synthetic.shape_polygon(shape, (32.0, 32.0), r, synthetic._UPRIGHT[shape]))
        assert area <= canvas.sum() <= area + perimeter, shape


def test_shortcut_marker_lies_outside_the_object_and_changes_nothing_else():
    from camsweep import seeding

    spec_off = synthetic.SyntheticSpec(image_size=56)
    spec_on = synthetic.SyntheticSpec(image_size=56, marker_probability=1.0, marker_mode="correlated")
    colours = synthetic._MARKER_COLOURS * 255
    for index in range(8):
        label = index % 4
        plain, mask, marked_off = synthetic.render(spec_off, label, seeding.rng(0, "t", index))
        marked, mask_on, marked_on = synthetic.render(spec_on, label, seeding.rng(0, "t", index))
        assert not marked_off and marked_on
        np.testing.assert_array_equal(mask, mask_on)  # the marker is never part of the mask
        changed = (plain != marked).any(axis=2)
        assert changed.any() and not (changed & mask).any()
        box = regions.box_from_mask(changed)
        side = max(3, 56 // 14)
        assert box[2] - box[0] + 1 <= side and box[3] - box[1] + 1 <= side
        np.testing.assert_array_equal(marked[changed], np.broadcast_to(colours[label], marked[changed].shape))


def test_shuffled_marker_never_has_the_true_class_colour():
    from camsweep import seeding

    spec = synthetic.SyntheticSpec(image_size=56, marker_probability=1.0, marker_mode="shuffled")
    plain_spec = synthetic.SyntheticSpec(image_size=56)
    for index in range(8):
        label = index % 4
        plain, _, _ = synthetic.render(plain_spec, label, seeding.rng(1, "t", index))
        marked, _, _ = synthetic.render(spec, label, seeding.rng(1, "t", index))
        colour = marked[(plain != marked).any(axis=2)][0]
        assert not np.array_equal(colour, synthetic._MARKER_COLOURS[label] * 255)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"classes": ("circle", "blob")}, "unknown synthetic classes"),
        ({"image_size": 16}, "image_size must be >= 32"),
        ({"object_radius": (0.3, 0.2)}, "object_radius"),
        ({"marker_mode": "sometimes"}, "marker_mode"),
    ],
)
def test_bad_specs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic.SyntheticSpec(**kwargs)
