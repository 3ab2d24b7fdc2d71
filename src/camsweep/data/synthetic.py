"""Synthetic shapes on cluttered, textured backgrounds, with exact masks.

Each image holds one foreground object whose *shape* is its class. The object is drawn without
anti-aliasing, so its ground-truth mask is exactly the set of pixels it covers, and its box is the mask's
tight inclusive box. Colour, size, rotation, position and texture are random and independent of the
class, so shape is the only class signal — unless the optional **shortcut** marker is switched on: a
small square of a class-specific colour placed outside the object (never part of the mask).

Every image is drawn from its own generator keyed by (seed, "synthetic", split, index), so an image does
not depend on how many others are generated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from camsweep import regions, seeding
from camsweep.data.imageset import ImageSet

SHAPES = ("circle", "square", "triangle", "cross", "star", "hexagon")
# Angle (radians) at which each shape stands upright: square and cross axis-aligned, triangle and star
# pointing up (image y grows downwards).
_UPRIGHT = {"circle": 0.0, "square": np.pi / 4, "triangle": -np.pi / 2, "cross": 0.0, "star": -np.pi / 2, "hexagon": 0.0}
MarkerMode = Literal["absent", "correlated", "shuffled"]
# Saturated, mutually distinct marker colours, one per class index.
_MARKER_COLOURS = np.array(
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
)
_SUBPIXEL_BITS = 4  # cv2.fillPoly fixed-point precision for vertex coordinates


@dataclass(frozen=True)
class SyntheticSpec:
    """What a synthetic split looks like. Sizes in pixels; fractions of the image side.

    Defaults are the pipeline's (workflow/schemas/config.schema.yaml): tuned so ResNet-18 learns the
    shapes to ≥ 95 % within the default training budget.
    """

    image_size: int = 56
    classes: tuple[str, ...] = ("circle", "square", "triangle", "cross")
    object_radius: tuple[float, float] = (0.22, 0.34)
    max_rotation: float = 15.0  # degrees either side of the shape's upright pose
    clutter_lines: int = 3
    clutter_blobs: int = 8
    texture_amplitude: float = 0.06
    pixel_noise: float = 0.03
    marker_probability: float = 0.0
    marker_mode: MarkerMode = "absent"

    def __post_init__(self) -> None:
        unknown = [c for c in self.classes if c not in SHAPES]
        if unknown:
            raise ValueError(f"unknown synthetic classes {unknown}; valid: {list(SHAPES)}")
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError(f"synthetic classes must be at least 2 distinct shapes, got {list(self.classes)}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be >= 32 (perturbations need it), got {self.image_size}")
        low, high = self.object_radius
        if not 0.05 <= low <= high <= 0.45:
            raise ValueError(f"object_radius must satisfy 0.05 <= low <= high <= 0.45, got {self.object_radius}")
        if not 0.0 <= self.max_rotation <= 180.0:
            raise ValueError(f"max_rotation must be in [0, 180] degrees, got {self.max_rotation}")
        if not 0.0 <= self.marker_probability <= 1.0:
            raise ValueError(f"marker_probability must be in [0, 1], got {self.marker_probability}")
        if self.marker_mode not in ("absent", "correlated", "shuffled"):
            raise ValueError(f"marker_mode must be absent, correlated or shuffled, got {self.marker_mode!r}")


def spec_from_config(options: dict, marker_probability: float, marker_mode: MarkerMode) -> SyntheticSpec:
    """The spec of a config's ``datasets.<name>.synthetic`` section, with the marker as given."""
    return SyntheticSpec(
        image_size=options["image_size"], classes=tuple(options["classes"]),
        object_radius=tuple(options["object_radius"]), max_rotation=options["max_rotation"],
        clutter_lines=options["clutter_lines"], clutter_blobs=options["clutter_blobs"],
        texture_amplitude=options["texture_amplitude"], pixel_noise=options["pixel_noise"],
        marker_probability=marker_probability, marker_mode=marker_mode,
    )


def shape_polygon(shape: str, centre: tuple[float, float], radius: float, angle: float) -> np.ndarray:
    """Vertices (V, 2) of ``shape`` with circumradius ``radius`` rotated by ``angle`` radians."""
    if shape == "circle":
        count, radii = 96, np.ones(96)
    elif shape == "square":
        count, radii = 4, np.ones(4)
    elif shape == "triangle":
        count, radii = 3, np.ones(3)
    elif shape == "hexagon":
        count, radii = 6, np.ones(6)
    elif shape == "star":
        count, radii = 10, np.tile([1.0, 0.42], 5)
    elif shape == "cross":
        # Plus sign with arm half-width w: 12 vertices alternating arm tips and inner corners.
        w = 0.34
        tip = np.array([[1, -w], [1, w], [w, w], [w, 1], [-w, 1], [-w, w], [-1, w], [-1, -w], [-w, -w], [-w, -1], [w, -1], [w, -w]])
        scale = radius / np.hypot(1, w)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return tip * scale @ rot.T + np.asarray(centre)
    else:
        raise ValueError(f"unknown shape {shape!r}; valid: {list(SHAPES)}")
    theta = angle + 2 * np.pi * np.arange(count) / count
    return np.asarray(centre) + (radius * radii)[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def _fill(canvas: np.ndarray, polygon: np.ndarray) -> None:
    points = np.round(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(canvas, [points], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)


def _stripes(rng: np.random.Generator, size: int, period: tuple[float, float]) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    theta = rng.uniform(0, np.pi)
    frequency = 1.0 / rng.uniform(*period)
    phase = rng.uniform(0, 2 * np.pi)
    return np.sin(2 * np.pi * frequency * (x * np.cos(theta) + y * np.sin(theta)) + phase)


def _background(rng: np.random.Generator, spec: SyntheticSpec) -> np.ndarray:
    size = spec.image_size
    coarse = rng.uniform(0.15, 0.85, size=(3, 3, 3)).astype(np.float32)
    image = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    image += spec.texture_amplitude * _stripes(rng, size, (3.0, 9.0))[..., None] * rng.uniform(0.3, 1.0, size=3)
    canvas = np.ascontiguousarray(image)
    for _ in range(spec.clutter_lines):
        start = tuple(int(v) for v in rng.integers(0, size, 2))
        end = tuple(int(v) for v in rng.integers(0, size, 2))
        colour = tuple(float(v) for v in rng.uniform(0, 1, 3))
        cv2.line(canvas, start, end, colour, thickness=int(rng.integers(1, 3)), lineType=cv2.LINE_8)
    for _ in range(spec.clutter_blobs):
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(1, max(2, size // 18) + 1, 2))
        colour = tuple(float(v) for v in rng.uniform(0, 1, 3))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, lineType=cv2.LINE_8)
    return canvas


def _object_colour(rng: np.random.Generator, background_mean: np.ndarray) -> np.ndarray:
    # Redraw until the object stands out from the background on average (class-independent).
    for _ in range(100):
        colour = rng.uniform(0.0, 1.0, size=3)
        if np.linalg.norm(colour - background_mean) > 0.45:
            return colour
    return 1.0 - background_mean


def _marker_position(rng: np.random.Generator, object_mask: np.ndarray, marker: int) -> tuple[int, int] | None:
    size = object_mask.shape[0]
    keep_out = cv2.dilate(object_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    # Integral image: a marker at (x, y) is allowed if its square does not touch the dilated object.
    integral = np.pad(keep_out.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    span = size - marker + 1
    covered = (
        integral[marker : marker + span, marker : marker + span]
        - integral[:span, marker : marker + span]
        - integral[marker : marker + span, :span]
        + integral[:span, :span]
    )
    free_y, free_x = np.nonzero(covered == 0)
    if free_y.size == 0:
        return None
    pick = int(rng.integers(free_y.size))
    return int(free_x[pick]), int(free_y[pick])


def render(spec: SyntheticSpec, label: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """One image of class ``label``: (uint8 H×W×3 image, bool mask, whether a marker was drawn)."""
    size = spec.image_size
    image = _background(rng, spec)
    radius = rng.uniform(*spec.object_radius) * size
    centre = tuple(rng.uniform(radius + 1, size - radius - 2, size=2))
    shape = spec.classes[label]
    angle = _UPRIGHT[shape] + np.deg2rad(rng.uniform(-spec.max_rotation, spec.max_rotation))
    polygon = shape_polygon(shape, centre, radius, angle)
    mask_u8 = np.zeros((size, size), np.uint8)
    _fill(mask_u8, polygon)
    mask = mask_u8.astype(bool)

    colour = _object_colour(rng, image.mean(axis=(0, 1)))
    texture = spec.texture_amplitude * _stripes(rng, size, (2.0, 5.0))[..., None]
    image[mask] = (colour + texture)[mask]

    # Noise before the marker: switching the marker on changes only the marker's own pixels.
    image += spec.pixel_noise * rng.standard_normal(image.shape)
    has_marker = spec.marker_mode != "absent" and rng.uniform() < spec.marker_probability
    if has_marker:
        marker_class = label
        if spec.marker_mode == "shuffled":
            marker_class = int(rng.choice([c for c in range(len(spec.classes)) if c != label]))
        marker = max(3, size // 14)
        position = _marker_position(rng, mask, marker)
        has_marker = position is not None
        if position is not None:
            x, y = position
            image[y : y + marker, x : x + marker] = _MARKER_COLOURS[marker_class % len(_MARKER_COLOURS)]

    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), mask, bool(has_marker)


def generate(spec: SyntheticSpec, count: int, split: str, seed: int) -> ImageSet:
    """``count`` images of ``split``: classes balanced (counts differ by at most one), order shuffled."""
    if count < 1:
        raise ValueError(f"image count for split {split!r} must be >= 1, got {count}")
    n_classes = len(spec.classes)
    labels = seeding.rng(seed, "synthetic", split, "labels").permutation(np.arange(count) % n_classes)
    images = np.empty((count, spec.image_size, spec.image_size, 3), np.uint8)
    masks = np.empty((count, spec.image_size, spec.image_size), bool)
    markers = np.empty(count, bool)
    for index, label in enumerate(labels):
        images[index], masks[index], markers[index] = render(spec, int(label), seeding.rng(seed, "synthetic", split, index))
    return ImageSet(
        images=images, labels=labels.astype(np.int64),
        ids=np.array([f"{split}_{i:05d}" for i in range(count)]), class_names=tuple(spec.classes),
        masks=masks, boxes=regions.boxes_from_masks(masks),
        meta={"markers": int(markers.sum())},
    )
