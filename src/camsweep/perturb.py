"""Image perturbations with the ImageNet-C definitions (Hendrycks & Dietterich 2019).

The five corruptions of the robustness study, written to compute exactly what the ``imagecorruptions``
package (and therefore imgaug's ``imgcorruptlike`` augmenters) computes: the image is scaled to [0, 1]
in float64, corrupted, clipped, multiplied by 255 and cast to uint8 by **truncation** (as
``imagecorruptions.corrupt`` does with ``np.uint8``). Motion blur works on the 0–255 scale and is
clipped there, as in the reference.

Differences from the reference, on purpose:

* Randomness comes from a generator seeded per image (:mod:`camsweep.seeding`), never from NumPy's
  global state (the robustness study's original never seeded its corruptions).
* Everything is vectorised over a batch; a batch gives exactly what per-image calls give.

imgaug itself is not used: 0.4.0 fails at import under NumPy 2 (``np.sctypes`` was removed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SEVERITIES = (1, 2, 3, 4, 5)
CLEAN = ("none", 0)  # the (perturbation, severity) that stands for the unperturbed images


@dataclass(frozen=True)
class Corruption:
    name: str
    parameters: tuple[Any, ...]  # one per severity 1..5
    draw: Callable[[np.random.Generator, tuple[int, ...]], Any]  # per-image random draws
    apply: Callable[[np.ndarray, Any, list[Any]], np.ndarray]  # (uint8 batch, parameter, draws) -> float64 0..255


def _no_draw(rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    return None


def _normal_draw(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape)


def _angle_draw(rng: np.random.Generator, shape: tuple[int, ...]) -> float:
    return float(rng.uniform(-45.0, 45.0))


def _gaussian_noise(batch: np.ndarray, sigma: float, draws: list[np.ndarray]) -> np.ndarray:
    x = batch / 255.0
    return np.clip(x + sigma * np.stack(draws), 0, 1) * 255


def _speckle_noise(batch: np.ndarray, sigma: float, draws: list[np.ndarray]) -> np.ndarray:
    x = batch / 255.0
    return np.clip(x + x * (sigma * np.stack(draws)), 0, 1) * 255


def _contrast(batch: np.ndarray, factor: float, draws: list[None]) -> np.ndarray:
    x = batch / 255.0
    # Per-image means with the reference's own reduction, so rounding matches bit for bit.
    means = np.stack([np.mean(image, axis=(0, 1), keepdims=True) for image in x])
    return np.clip((x - means) * factor + means, 0, 1) * 255


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] → HSV in [0, 1] (hue as a fraction of a turn), any leading shape.

    Same arithmetic as scikit-image's ``rgb2hsv``: when channels tie for the maximum, blue wins over
    green over red; grey pixels get hue 0 and saturation 0.
    """
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(-1)
    delta = np.ptp(rgb, axis=-1)
    grey = delta == 0.0
    safe_delta = np.where(grey, 1.0, delta)
    hue = np.where(red == value, (green - blue) / safe_delta, 0.0)
    hue = np.where(green == value, 2.0 + (blue - red) / safe_delta, hue)
    hue = np.where(blue == value, 4.0 + (red - green) / safe_delta, hue)
    hue = np.where(grey, 0.0, (hue / 6.0) % 1.0)
    saturation = np.where(grey, 0.0, delta / np.where(value == 0, 1.0, value))
    return np.stack([hue, saturation, value], axis=-1)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_hsv` (scikit-image's ``hsv2rgb`` arithmetic)."""
    hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    sector = np.floor(hue * 6)
    f = hue * 6 - sector
    p = value * (1 - saturation)
    q = value * (1 - f * saturation)
    t = value * (1 - (1 - f) * saturation)
    sector = sector.astype(np.uint8) % 6
    choices = [(value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q)]
    channels = [np.choose(sector, [choice[c] for choice in choices]) for c in range(3)]
    return np.stack(channels, axis=-1)


def _brightness(batch: np.ndarray, shift: float, draws: list[None]) -> np.ndarray:
    hsv = rgb_to_hsv(batch / 255.0)
    hsv[..., 2] = np.clip(hsv[..., 2] + shift, 0, 1)
    return np.clip(hsv_to_rgb(hsv), 0, 1) * 255


def motion_blur_kernel(radius: int, sigma: float) -> np.ndarray:
    """Normalised one-sided Gaussian weights for the ``2·radius + 1`` taps of the blur."""
    taps = np.arange(radius * 2 + 1)
    weights = np.exp(-(taps**2) / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
    return weights / np.sum(weights)


def motion_blur_offsets(width: int, angle: float) -> list[tuple[int, int]]:
    """(dx, dy) pixel offset of each tap along a line at ``angle`` degrees (reference rounding)."""
    point_y, point_x = width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle))
    length = math.hypot(point_y, point_x)
    return [(-math.ceil(i * point_x / length - 0.5), -math.ceil(i * point_y / length - 0.5)) for i in range(width)]


def _motion_blur_one(image: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    height, width = image.shape[:2]
    kernel = motion_blur_kernel(radius, sigma)
    offsets = motion_blur_offsets(len(kernel), angle)
    # Shift with edge replication, out[y, x] = image[clamp(y - dy), clamp(x - dx)], as slices of one
    # edge-padded copy: no per-tap copies, the same values as the reference's roll-and-fill.
    pad = len(kernel)
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    blurred = np.zeros(image.shape, dtype=np.float64)
    for weight, (dx, dy) in zip(kernel, offsets, strict=True):
        if abs(dy) >= height or abs(dx) >= width:
            break  # the motion left the image; the reference stops adding taps here
        blurred += weight * padded[pad - dy : pad - dy + height, pad - dx : pad - dx + width]
    return np.clip(blurred, 0, 255)


def _motion_blur(batch: np.ndarray, parameter: tuple[int, float], draws: list[float]) -> np.ndarray:
    radius, sigma = parameter
    return np.stack([_motion_blur_one(image, radius, sigma, angle) for image, angle in zip(batch, draws, strict=True)])


CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption("gaussian_noise", (0.08, 0.12, 0.18, 0.26, 0.38), _normal_draw, _gaussian_noise),
        Corruption("speckle_noise", (0.15, 0.20, 0.35, 0.45, 0.60), _normal_draw, _speckle_noise),
        Corruption("motion_blur", ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)), _angle_draw, _motion_blur),
        Corruption("contrast", (0.40, 0.30, 0.20, 0.10, 0.05), _no_draw, _contrast),
        Corruption("brightness", (0.10, 0.20, 0.30, 0.40, 0.50), _no_draw, _brightness),
    )
}
NAMES = tuple(CORRUPTIONS)


def get(name: str) -> Corruption:
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown perturbation {name!r}; valid: {', '.join(NAMES)}")
    return CORRUPTIONS[name]


def _check(images: np.ndarray, name: str, severity: int) -> Corruption:
    corruption = get(name)
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {list(SEVERITIES)}, got {severity!r}")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if min(images.shape[1:3]) < 32:
        raise ValueError(f"images must be at least 32×32 pixels for ImageNet-C corruptions, got {images.shape[1:3]}")
    return corruption


def apply_with_draws(images: np.ndarray, name: str, severity: int, draws: Sequence[Any]) -> np.ndarray:
    """Corrupt a uint8 batch (N, H, W, 3) with given per-image random draws (see :func:`draws_for`)."""
    corruption = _check(images, name, severity)
    if len(draws) != len(images):
        raise ValueError(f"got {len(draws)} random draws for {len(images)} images")
    result = corruption.apply(images, corruption.parameters[severity - 1], list(draws))
    return result.astype(np.uint8)  # truncation, like imagecorruptions' np.uint8 cast


def draws_for(name: str, rng: np.random.Generator, shape: tuple[int, ...]) -> Any:
    """The random draws one image of ``shape`` (H, W, 3) needs for corruption ``name``."""
    return get(name).draw(rng, shape)


def corrupt_batch(images: np.ndarray, name: str, severity: int, seeds: Sequence[int]) -> np.ndarray:
    """Corrupt each image of a uint8 batch with its own seed; equals per-image :func:`corrupt` calls."""
    _check(images, name, severity)
    if len(seeds) != len(images):
        raise ValueError(f"got {len(seeds)} seeds for {len(images)} images")
    draws = [draws_for(name, np.random.default_rng(seed), images.shape[1:]) for seed in seeds]
    return apply_with_draws(images, name, severity, draws)


def corrupt(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """Corrupt one uint8 H×W×3 image with ``name`` at ``severity`` (1–5); same seed, same result."""
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be (H, W, 3), got shape {image.shape}")
    return corrupt_batch(image[None], name, severity, [seed])[0]
