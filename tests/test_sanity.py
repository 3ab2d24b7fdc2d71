"""Sanity check (Adebayo et al. 2018): cascading randomisation, map similarity, the failure summary."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from skimage.metrics import structural_similarity
from torch import nn

from camsweep import maps, sanity


class Gain(nn.Module):
    """A module that owns a parameter but has no reset_parameters (exercises the fallback)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels, 1, 1))

    def forward(self, x):
        return x * self.gain


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), Gain(4),
            nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


@pytest.fixture()
def trained():
    """A Tiny model with 'trained' (non-initial) weights and BatchNorm statistics."""
    torch.manual_seed(0)
    model = Tiny().eval()
    with torch.no_grad():
        for tensor in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            tensor.add_(0.3 + 0.1 * torch.rand_like(tensor))
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.num_batches_tracked.fill_(100)
    return model


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed_keys(before, after):
    return {k for k in before if not torch.equal(before[k], after[k])}


NAMES = ["features.0", "features.1", "features.3", "features.4", "features.5", "fc"]


# --- randomisation ------------------------------------------------------------------------------------


def test_parametrised_modules_in_forward_order(trained):
    assert sanity.parametrised_module_names(trained) == NAMES


def test_top_layers_change_and_nothing_else(trained):
    original = snapshot(trained)
    randomised = sanity.randomised_copy(trained, top=3, seed=1)
    assert randomised is not trained
    assert changed_keys(original, snapshot(trained)) == set()  # the user's model is untouched
    expected = {"features.4.weight", "features.4.bias", "features.5.weight", "features.5.bias",
                "features.5.running_mean", "features.5.running_var", "features.5.num_batches_tracked",
                "fc.weight", "fc.bias"}
    assert changed_keys(original, snapshot(randomised)) == expected
    bn = randomised.features[5]
    assert torch.equal(bn.running_mean, torch.zeros(6)) and torch.equal(bn.running_var, torch.ones(6))
    assert torch.equal(bn.weight, torch.ones(6)) and torch.equal(bn.bias, torch.zeros(6))
    assert not randomised.training and all(p.requires_grad for p in randomised.parameters())


def test_buffers_can_be_kept(trained):
    original = snapshot(trained)
    randomised = sanity.randomised_copy(trained, modules=["features.5"], reset_buffers=False)
    assert changed_keys(original, snapshot(randomised)) == {"features.5.weight", "features.5.bias"}


def test_fallback_for_modules_without_reset_parameters(trained):
    randomised = sanity.randomised_copy(trained, modules=["features.3"], seed=2)
    gain = randomised.features[3].gain
    assert not torch.equal(gain, trained.features[3].gain)
    assert gain.abs().max() < 5 * sanity.FALLBACK_STD  # four draws from N(0, 0.02²), not the trained ~1.3


def test_seeded_deterministic_and_cascade_consistent(trained):
    first = snapshot(sanity.randomised_copy(trained, top=4, seed=7))
    again = snapshot(sanity.randomised_copy(trained, top=4, seed=7))
    assert changed_keys(first, again) == set()
    other = snapshot(sanity.randomised_copy(trained, top=4, seed=8))
    assert "fc.weight" in changed_keys(first, other) and "features.4.weight" in changed_keys(first, other)
    # A module's random weights do not depend on how many others are randomised with it.
    fc_only = snapshot(sanity.randomised_copy(trained, modules=["fc"], seed=7))
    assert torch.equal(fc_only["fc.weight"], first["fc.weight"])
    assert changed_keys(fc_only, snapshot(sanity.randomised_copy(trained, top=1, seed=7))) == set()


def test_global_rng_is_left_alone(trained):
    state = torch.get_rng_state()
    sanity.randomised_copy(trained, top=6, seed=3)
    assert torch.equal(state, torch.get_rng_state())


def test_zero_top_is_an_unchanged_copy(trained):
    copy = sanity.randomised_copy(trained, top=0)
    assert copy is not trained and changed_keys(snapshot(trained), snapshot(copy)) == set()


def test_randomised_model_changes_outputs(trained):
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(trained(x), sanity.randomised_copy(trained, top=1)(x))


@pytest.mark.parametrize(
    "kwargs", [{}, {"top": 1, "modules": ["fc"]}, {"top": 7}, {"top": -1}, {"modules": ["features.2"]}]
)
def test_invalid_choices_raise(trained, kwargs):
    with pytest.raises(ValueError):
        sanity.randomised_copy(trained, **kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_same_weights_on_gpu(trained):
    on_cpu = snapshot(sanity.randomised_copy(trained, top=6, seed=5))
    on_gpu = {k: v.cpu() for k, v in sanity.randomised_copy(trained.cuda(), top=6, seed=5).state_dict().items()}
    assert changed_keys(on_cpu, on_gpu) == set()


# --- similarity ---------------------------------------------------------------------------------------


def test_identical_maps_score_one(rng):
    saliency = rng.random((3, 16, 16))
    similarity = sanity.map_similarity(saliency, saliency)
    np.testing.assert_allclose(similarity["rank_correlation"], 1.0)
    np.testing.assert_allclose(similarity["ssim"], 1.0)


def test_negation_ranks_minus_one(rng):
    saliency = rng.standard_normal((3, 16, 16))
    np.testing.assert_allclose(sanity.rank_correlation(saliency, -saliency), -1.0)
    np.testing.assert_allclose(sanity.rank_correlation(saliency, -saliency, absolute=True), 1.0)


def test_rank_correlation_matches_scipy_with_ties(rng):
    first = np.round(rng.random((4, 12, 12)) * 4)  # many ties
    second = np.round(first + rng.random((4, 12, 12)) * 3)
    expected = [stats.spearmanr(a.ravel(), b.ravel()).statistic for a, b in zip(first, second, strict=True)]
    np.testing.assert_allclose(sanity.rank_correlation(first, second), expected, atol=1e-12)


@pytest.mark.parametrize("shape", [(11, 11), (24, 24), (30, 47), (56, 56)])
def test_ssim_matches_skimage(rng, shape):
    first = 5 * rng.random((3, *shape)) - 1
    second = first + rng.random((3, *shape))
    second[2] = rng.random(shape)  # unrelated
    expected = [structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=1)
                for a, b in zip(maps.normalise(first), maps.normalise(second), strict=True)]
    np.testing.assert_allclose(sanity.ssim(first, second), expected, atol=1e-6)


def test_constant_maps():
    constant = np.full((1, 16, 16), 3.0)
    varying = np.arange(256, dtype=float).reshape(1, 16, 16)
    assert np.isnan(sanity.rank_correlation(constant, varying)[0])
    assert np.isnan(sanity.rank_correlation(constant, constant)[0])
    assert sanity.ssim(constant, 2 * constant)[0] == pytest.approx(1.0)
    expected = structural_similarity(np.zeros((16, 16)), maps.normalise(varying)[0], gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False, data_range=1)
    assert sanity.ssim(constant, varying)[0] == pytest.approx(expected, abs=1e-6)


def test_invalid_maps_raise():
    small = np.zeros((1, 7, 7))
    with pytest.raises(ValueError, match="upsample"):
        sanity.ssim(small, small)
    with pytest.raises(ValueError, match="shape"):
        sanity.rank_correlation(np.zeros((1, 12, 12)), np.zeros((1, 12, 13)))
    with pytest.raises(ValueError, match="NaN"):
        sanity.map_similarity(np.full((1, 12, 12), np.nan), np.zeros((1, 12, 12)))


# --- summary ------------------------------------------------------------------------------------------


def test_summary_flags_methods_above_threshold():
    frame = pd.DataFrame({
        "method": ["guided", "guided", "guided", "gradcam", "gradcam", "flat"],
        "rank_correlation": [0.9, 0.7, np.nan, 0.1, 0.2, np.nan],
        "ssim": [0.8, 0.6, 0.7, 0.2, 0.1, 1.0],
    })
    summary = sanity.summarise(frame).set_index("method")
    assert list(summary.index) == ["flat", "gradcam", "guided"]
    assert summary.loc["guided", "n"] == 2 and summary.loc["guided", "mean_rank_correlation"] == pytest.approx(0.8)
    assert summary.loc["guided", "mean_ssim"] == pytest.approx(0.7)
    assert bool(summary.loc["guided", "fails_check"]) and not bool(summary.loc["gradcam", "fails_check"])
    assert pd.isna(summary.loc["flat", "fails_check"]) and summary.loc["flat", "n"] == 0
    strict = sanity.summarise(frame, threshold=0.1).set_index("method")
    assert bool(strict.loc["gradcam", "fails_check"])


def test_summary_requires_columns():
    with pytest.raises(ValueError, match="lacks"):
        sanity.summarise(pd.DataFrame({"method": ["a"], "ssim": [1.0]}))

