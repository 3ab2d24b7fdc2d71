"""Perturbations against the imagecorruptions package (what imgaug's imgcorruptlike calls)."""

import warnings

import numpy as np
import pytest
from scipy import stats

from camsweep import perturb

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # imagecorruptions imports the deprecated pkg_resources
    import imagecorruptions


def _reference(image, name, severity, seed):
    """imagecorruptions' output and the random draws it consumed (its global NumPy state, seeded)."""
    np.random.seed(seed)
    corrupted = imagecorruptions.corrupt(image, severity=severity, corruption_name=name)
    legacy = np.random.RandomState(seed)
    if name in ("gaussian_noise", "speckle_noise"):
        draws = legacy.standard_normal(image.shape)  # np.random.normal(scale=c) = c · these draws
    elif name == "motion_blur":
        draws = legacy.uniform(-45, 45)
    else:
        draws = None
    return corrupted, draws


@pytest.mark.parametrize("name", perturb.NAMES)
@pytest.mark.parametrize("severity", perturb.SEVERITIES)
def test_identical_to_imagecorruptions_given_the_same_draws(shapes_split, name, severity):
    for index, image in enumerate(shapes_split.images[:4]):
        expected, draws = _reference(image, name, severity, seed=100 * index + severity)
        ours = perturb.apply_with_draws(image[None], name, severity, [draws])[0]
        np.testing.assert_array_equal(ours, expected)


def test_identical_on_a_grey_image_with_saturated_pixels():
    # Ties between channels (grey) and 0/255 extremes exercise the HSV edge cases of brightness.
    image = np.zeros((40, 40, 3), np.uint8)
    image[:, :20] = 255
    image[10:30, 10:30] = [128, 128, 128]
    image[0, 0] = [255, 0, 255]
    for name in ("brightness", "contrast"):
        for severity in perturb.SEVERITIES:
            expected, draws = _reference(image, name, severity, seed=0)
            np.testing.assert_array_equal(perturb.apply_with_draws(image[None], name, severity, [draws])[0], expected)


@pytest.mark.parametrize("name,sigma", [("gaussian_noise", 0.18), ("speckle_noise", 0.35)])
def test_seeded_noise_has_the_reference_distribution(name, sigma):
    # With camsweep's own generator the draws differ from NumPy's legacy stream; the noise law must not.
    image = np.full((64, 64, 3), 128, np.uint8)  # mid-grey: no clipping at 3σ for severity 3
    ours = perturb.corrupt(image, name, 3, seed=5).astype(float) / 255
    np.random.seed(5)
    reference = imagecorruptions.corrupt(image, severity=3, corruption_name=name).astype(float) / 255
    x = 128 / 255
    scale = sigma if name == "gaussian_noise" else sigma * x
    # Truncation to uint8 shifts values down by half a level on average.
    for sample in (ours, reference):
        residual = sample.ravel() - x + 0.5 / 255
        assert abs(residual.mean()) < 4 * scale / np.sqrt(residual.size)
        assert residual.std() == pytest.approx(scale, rel=0.03)
    assert stats.ks_2samp(ours.ravel(), reference.ravel()).pvalue > 0.001


def test_motion_blur_angle_is_uniform_over_plus_minus_45_degrees():
    angles = [perturb.draws_for("motion_blur", np.random.default_rng(seed), (32, 32, 3)) for seed in range(400)]
    assert min(angles) >= -45 and max(angles) <= 45
    assert stats.kstest(angles, stats.uniform(loc=-45, scale=90).cdf).pvalue > 0.01


def test_batch_equals_per_image_calls_and_seed_determines_output(shapes_split):
    images = shapes_split.images[:5]
    seeds = [11, 12, 13, 14, 15]
    for name in perturb.NAMES:
        batch = perturb.corrupt_batch(images, name, 2, seeds)
        for image, seed, result in zip(images, seeds, batch, strict=True):
            np.testing.assert_array_equal(perturb.corrupt(image, name, 2, seed), result)
    first = perturb.corrupt(images[0], "gaussian_noise", 1, seed=3)
    assert np.array_equal(first, perturb.corrupt(images[0], "gaussian_noise", 1, seed=3))
    assert not np.array_equal(first, perturb.corrupt(images[0], "gaussian_noise", 1, seed=4))


def test_severity_orders_the_damage(shapes_split):
    image = shapes_split.images[0]
    for name in perturb.NAMES:
        errors = [np.abs(perturb.corrupt(image, name, s, 0).astype(float) - image).mean() for s in perturb.SEVERITIES]
        assert errors == sorted(errors), name


def test_contrast_by_hand():
    # Two-level image, channel mean 100: severity 1 maps x to 100 + 0.4·(x − 100), i.e. 50 → 80, 150 → 120.
    # Float rounding leaves both just below the integer, which the uint8 truncation (ImageNet-C's) turns
    # into 79 and 119.
    image = np.zeros((32, 32, 3), np.uint8)
    image[:16] = 50
    image[16:] = 150
    out = perturb.corrupt(image, "contrast", 1, seed=0)
    assert set(np.unique(out[:16]).tolist()) == {79}
    assert set(np.unique(out[16:]).tolist()) == {119}


def test_bad_arguments_name_the_value_and_the_valid_ones(shapes_split):
    image = shapes_split.images[0]
    with pytest.raises(ValueError, match=r"unknown perturbation 'fog'; valid: gaussian_noise, speckle_noise"):
        perturb.corrupt(image, "fog", 1, 0)
    for severity in (0, 6):
        with pytest.raises(ValueError, match=r"severity must be one of \[1, 2, 3, 4, 5\], got " + str(severity)):
            perturb.corrupt(image, "contrast", severity, 0)
    with pytest.raises(ValueError, match="at least 32"):
        perturb.corrupt(np.zeros((16, 16, 3), np.uint8), "contrast", 1, 0)
    with pytest.raises(ValueError, match="uint8"):
        perturb.corrupt(image.astype(float), "contrast", 1, 0)
    with pytest.raises(ValueError, match="2 seeds for 3 images"):
        perturb.corrupt_batch(shapes_split.images[:3], "contrast", 1, [1, 2])
