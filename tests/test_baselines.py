"""Baseline maps (random, centre, uniform): their values by hand, their seeding, and their comparisons."""

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from camsweep import cams, comparisons
from camsweep.cams import baselines


class Grid(nn.Module):
    """A model whose `features` layer has a (4, 6) grid."""

    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(3, 2, 3, stride=2, padding=1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


@pytest.fixture()
def images():
    return torch.randn(5, 3, 8, 12, generator=torch.Generator().manual_seed(0))


def test_centre_is_a_gaussian_on_pixel_centres():
    centre = baselines.centre_map(4, 6)
    sigma = 0.25 * 4  # a quarter of the shorter side
    # Pixel (0, 0)'s centre lies 1.5 rows and 2.5 columns from the grid's centre (2, 3).
    assert centre[0, 0] == pytest.approx(math.exp(-(1.5**2 + 2.5**2) / (2 * sigma**2)), rel=1e-6)
    assert centre[1, 2] == pytest.approx(math.exp(-(0.5**2 + 0.5**2) / 2), rel=1e-6)
    assert centre.max() == centre[1, 2] == centre[2, 3]  # the four centre pixels tie
    np.testing.assert_array_equal(centre, centre[::-1, ::-1])  # symmetric about the centre


def test_baselines_through_the_engine(images):
    model = Grid().eval()
    maps = cams.compute_many(model, images, ["gradcam", "random", "centre", "uniform"], ["features"], [0, 1, 2, 0, 1],
                             batch_size=2)
    for name in ("random", "centre", "uniform"):
        assert maps[name]["features"].shape == (5, 4, 6)  # on the layer's grid, like a real map
    torch.testing.assert_close(maps["centre"]["features"], torch.from_numpy(baselines.centre_map(4, 6)).expand(5, 4, 6))
    assert torch.equal(maps["uniform"]["features"], torch.ones(5, 4, 6))
    # random: U[0, 1) from the image's own seed, the hash of its input bytes and the grid shape.
    digest = hashlib.blake2b(images[3].numpy().tobytes(), digest_size=8)
    digest.update(np.array([4, 6], dtype=np.int64).tobytes())
    expected = np.random.default_rng(int.from_bytes(digest.digest(), "little")).random((4, 6), dtype=np.float32)
    np.testing.assert_array_equal(maps["random"]["features"][3].numpy(), expected)


def test_random_is_seeded_per_image_not_per_batch(images):
    model = Grid().eval()
    together = cams.compute(model, images, "random", ["features"], None, batch_size=5)["features"]
    alone = cams.compute(model, images[2:3], "random", ["features"], None)["features"]
    assert torch.equal(together[2], alone[0])  # batching and shards cannot change a map
    assert not torch.equal(together[0], together[1])  # each image has its own noise
    perturbed = cams.compute(model, images + 0.1, "random", ["features"], None)["features"]
    assert not torch.equal(perturbed[0], together[0])  # a perturbed copy is another image
    randomised = Grid().eval()  # another model: the map ignores it
    assert torch.equal(cams.compute(randomised, images, "random", ["features"], None)["features"], together)


def test_method_pairs_put_methods_before_baselines_and_skip_baseline_pairs():
    pairs = comparisons.method_pairs(["random", "gradcam++", "centre", "gradcam", "ablationcam"], ["random", "centre"])
    assert pairs == [
        ("ablationcam", "gradcam"), ("ablationcam", "gradcam++"), ("gradcam", "gradcam++"),
        ("ablationcam", "centre"), ("ablationcam", "random"), ("gradcam", "centre"), ("gradcam", "random"),
        ("gradcam++", "centre"), ("gradcam++", "random"),
    ]


def test_comparison_against_a_baseline_is_method_minus_baseline():
    ids = [f"i{k}" for k in range(8)]
    method = np.array([0.9, 0.8, 0.7, 0.95, 0.85, 0.6, 0.75, 0.65])
    random = method - np.array([0.5, 0.4, 0.3, 0.6, 0.2, 0.1, 0.35, 0.45])  # eight distinct positive differences
    frame = pd.DataFrame({
        "id": ids * 2, "method": ["gradcam"] * 8 + ["random"] * 8, "layer": "l", "perturbation": "none",
        "severity": 0, "energy_pg_mask": np.concatenate([method, random]),
    })
    row = comparisons.paired_comparisons(frame, ["energy_pg_mask"], baselines=["random"]).iloc[0]
    assert (row["method_a"], row["method_b"], bool(row["versus_baseline"])) == ("gradcam", "random", True)
    assert row["mean_difference"] == pytest.approx(0.3625)  # (0.5 + 0.4 + … + 0.45) / 8 = 2.9 / 8
    assert row["p_value"] == pytest.approx(2 / 2**8)  # exact test: all 8 differences positive
