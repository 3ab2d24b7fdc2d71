"""The cascading and independent model-randomisation test (Adebayo et al. 2018): blocks, steps, the job's
rows, the table, the config key and the figure."""

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from camsweep import config, sanity, stats, tables
from test_sanity import Gain

ROOT = Path(__file__).resolve().parents[1]


class Stack(nn.Module):
    """Top-level children: conv1, bn1, relu (no parameters), layer1, layer2, pool (none), fc."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.layer2 = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), Gain(6))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        x = self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(self.pool(x).flatten(1))


@pytest.fixture()
def model():
    torch.manual_seed(0)
    stack = Stack().eval()
    with torch.no_grad():
        for tensor in stack.parameters():
            tensor.add_(0.5)  # "trained": not the initial weights
    return stack


CASCADE_1 = ("layer1.0", "layer1.1", "layer2.0", "layer2.1", "fc")  # named_modules order


def test_default_blocks_are_the_parametrised_children_top_down(model):
    assert sanity.top_level_blocks(model) == ["fc", "layer2", "layer1", "bn1", "conv1"]
    assert sanity.block_modules(model, "layer2") == ["layer2.0", "layer2.1"]


def test_steps_cascade_from_randomise_from(model):
    steps = sanity.randomisation_steps(model, "layer2")
    assert [(s.index, s.block) for s in steps] == [(0, "fc+layer2"), (1, "layer1"), (2, "bn1"), (3, "conv1")]
    assert steps[0].cascading == steps[0].independent == ("layer2.0", "layer2.1", "fc")
    assert steps[1].cascading == CASCADE_1 and steps[1].independent == ("layer1.0", "layer1.1")
    assert steps[3].cascading == tuple(sanity.parametrised_module_names(model)) and steps[3].independent == ("conv1",)
    for k, step in enumerate(steps):  # step k = union of the first k + 1 blocks; independent = block k alone
        assert set(step.cascading) == set().union(*(s.independent for s in steps[: k + 1]))
        assert step.modules("cascading") == step.cascading and step.modules("independent") == step.independent


def test_steps_starting_inside_a_block_and_named_blocks(model):
    steps = sanity.randomisation_steps(model, "layer2.1")
    assert [s.block for s in steps] == ["fc+layer2.1", "layer2", "layer1", "bn1", "conv1"]
    assert steps[1].independent == ("layer2.0", "layer2.1") and steps[1].cascading == ("layer2.0", "layer2.1", "fc")
    named = sanity.randomisation_steps(model, "layer2", ["fc", "layer2", "layer1.1", "layer1.0"])
    assert [s.block for s in named] == ["fc+layer2", "layer1.1", "layer1.0"]  # covered blocks are skipped
    assert [s.block for s in sanity.randomisation_steps(model, "layer2", [])] == ["layer2"]  # no blocks to name
    for bad in (["pool"], ["layer9"]):
        with pytest.raises(ValueError, match=r"not modules that own parameters; valid: conv1, bn1, layer1"):
            sanity.randomisation_steps(model, "layer2", bad)


def test_a_cascading_step_is_the_randomised_copy_of_its_modules(model):
    steps = sanity.randomisation_steps(model, "layer2")
    by_step = sanity.randomised_copy(model, modules=steps[1].modules("cascading"), seed=4).state_dict()
    by_hand = sanity.randomised_copy(model, modules=list(CASCADE_1), seed=4).state_dict()
    assert all(torch.equal(by_step[key], by_hand[key]) for key in by_hand)
    # A block keeps its random weights from step to step and in both variants.
    first = sanity.randomised_copy(model, modules=steps[0].cascading, seed=4).state_dict()
    alone = sanity.randomised_copy(model, modules=steps[1].independent, seed=4).state_dict()
    assert torch.equal(by_step["fc.weight"], first["fc.weight"])
    assert torch.equal(by_step["layer1.0.weight"], alone["layer1.0.weight"])
    assert torch.equal(alone["fc.weight"], model.state_dict()["fc.weight"])


def test_the_job_rows_cover_every_variant_step_and_layer(shapes_split, monkeypatch):
    from camsweep import cams
    from camsweep.models import classifiers

    torch.manual_seed(0)
    spec = classifiers.ClassifierSpec(architecture="resnet18", num_classes=3, stem="compact", width=0.25)
    network = classifiers.build(spec).eval()
    split = shapes_split.subset(np.arange(3))
    inputs = classifiers.preprocess(split.images, spec)
    targets = np.array([0, 1, 2])
    layers = ["layer3", "layer4"]
    trained = {layer: stack.numpy() for layer, stack in cams.compute(network, inputs, "gradcam", layers, targets).items()}
    steps = sanity.randomisation_steps(network, "layer4", ["layer3"])
    frame, first = sanity.randomisation_test(network, inputs, split, trained | {"targets": targets}, "gradcam", layers,
                                             steps, seed=1)
    assert list(frame.columns[:5]) == ["variant", "step", "block", "id", "layer"]
    assert len(frame) == 2 * 2 * 2 * 3  # variants × steps × layers × images
    keys = list(dict.fromkeys(zip(frame["variant"], frame["step"], frame["block"], frame["layer"], strict=True)))
    assert keys == [(variant, step, block, layer) for variant in ("cascading", "independent")
                    for step, block in ((0, "layer4"), (1, "layer3")) for layer in layers]
    columns = ["rank_correlation", "ssim", "energy_pg_mask_trained", "energy_pg_box_randomised"]
    step0 = [frame[(frame["variant"] == variant) & (frame["step"] == 0)][columns].reset_index(drop=True)
             for variant in ("cascading", "independent")]
    pd.testing.assert_frame_equal(*step0)
    expected = cams.compute(sanity.randomised_copy(network, modules=steps[0].cascading, seed=1), inputs, "gradcam",
                            layers, targets)
    for layer in layers:
        assert first[layer].dtype == np.float32
        np.testing.assert_array_equal(first[layer], expected[layer].numpy())
    # Nothing re-initialised: the trained model's own maps, similarity 1.
    same, _ = sanity.randomisation_test(network, inputs, split, trained | {"targets": targets}, "gradcam", ["layer4"],
                                        [sanity.Step(0, "none", (), ())], seed=1)
    assert np.allclose(same["rank_correlation"].dropna(), 1.0) and np.allclose(same["ssim"], 1.0)
    # A baseline map knows nothing of the weights: computed once, the same rows at every step.
    compute, calls = cams.compute, []
    monkeypatch.setattr(cams, "compute", lambda *args, **kwargs: calls.append(args[2]) or compute(*args, **kwargs))
    centre, _ = sanity.randomisation_test(network, inputs, split, trained | {"targets": targets}, "centre", layers,
                                          steps, seed=1)
    assert calls == ["centre"] and len(centre) == len(frame)
    per_step = [group[["rank_correlation", "ssim"]].to_numpy() for _, group in centre.groupby(["variant", "step"])]
    assert all(np.array_equal(rows, per_step[0], equal_nan=True) for rows in per_step)


def per_image_frame():
    """Two methods, one layer, two images, steps 0 and 1 of both variants (step 0 alike in both)."""
    rows = []
    for method, base in (("gradcam", 0.9), ("uniform", np.nan)):
        for variant in ("independent", "cascading"):
            for step, block, drop in ((1, "layer3", 0.6), (0, "fc+layer4", 0.2)):
                shift = drop if variant == "cascading" or step == 0 else drop / 2
                for image, noise in (("a", 0.05), ("b", -0.05)):
                    rows.append({"dataset": "d", "model": "m", "method": method, "layer": "layer4", "variant": variant,
                                 "step": step, "block": block, "id": image, "rank_correlation": base - shift + noise,
                                 "ssim": 0.8 - shift, "energy_pg_box_trained": 0.5, "energy_pg_box_randomised": 0.4,
                                 "energy_pg_mask_trained": 0.6, "energy_pg_mask_randomised": 0.3})
    return pd.DataFrame(rows)


def test_the_table_groups_by_variant_and_step():
    table = tables.cascading_randomisation_table(per_image_frame(), stats.BootstrapSettings(200), seed=0, threshold=0.5)
    assert list(table.columns) == [*tables.CASCADE_KEYS, "n", "mean_rank_correlation", "rank_correlation_low",
                                   "rank_correlation_high", "mean_ssim", "ssim_low", "ssim_high", "fails_check"]
    assert list(zip(table["method"], table["variant"], table["step"], table["block"], strict=True)) == [
        (method, variant, step, block) for method in ("gradcam", "uniform") for variant in ("cascading", "independent")
        for step, block in ((0, "fc+layer4"), (1, "layer3"))]
    gradcam = table[table["method"] == "gradcam"].set_index(["variant", "step"])
    np.testing.assert_allclose(gradcam["mean_rank_correlation"], [0.7, 0.3, 0.7, 0.6])
    np.testing.assert_allclose(gradcam["mean_ssim"], [0.6, 0.2, 0.6, 0.5])
    assert (gradcam["rank_correlation_low"] <= gradcam["mean_rank_correlation"]).all()
    assert (gradcam["mean_rank_correlation"] <= gradcam["rank_correlation_high"]).all()
    assert list(gradcam["fails_check"]) == [True, False, True, True] and (gradcam["n"] == 2).all()
    uniform = table[table["method"] == "uniform"]
    assert (uniform["n"] == 0).all() and uniform["fails_check"].isna().all()  # no ranking: undecided
    again = tables.cascading_randomisation_table(per_image_frame().sample(frac=1, random_state=3),
                                                 stats.BootstrapSettings(200), seed=0, threshold=0.5)
    pd.testing.assert_frame_equal(table, again)  # row order of the input does not matter


def test_the_sanity_table_is_step_zero():
    frame = per_image_frame()
    table = tables.sanity_table(frame, stats.BootstrapSettings(200), seed=0, threshold=0.5)
    rank = table[(table["method"] == "gradcam") & (table["metric"] == "rank_correlation")]
    assert rank["mean"].tolist() == pytest.approx([0.7]) and rank["n"].tolist() == [2]
    assert table.loc[table["method"] == "gradcam", "fails_check"].all()


@pytest.fixture()
def default():
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def test_config_blocks_name_parametrised_modules(default):
    schema = config.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
    cfg = copy.deepcopy(default)
    cfg["sanity"]["blocks"] = ["layer4", "layer3.1", "conv1"]
    validated = config.validate(copy.deepcopy(cfg), schema)
    assert config.sanity_blocks(validated, "resnet18") == ["layer4", "layer3.1", "conv1"]
    cfg["sanity"]["blocks"] = ["layer3", "layer9", "avgpool"]
    with pytest.raises(config.ConfigError) as error:
        config.validate(copy.deepcopy(cfg), schema)
    message = str(error.value)
    assert "sanity.blocks: ['layer9', 'avgpool'] are not modules of models.resnet18 that own parameters" in message
    assert "valid: ['conv1', 'bn1', 'layer1'," in message
    cfg["sanity"]["blocks"] = None
    cfg["models"]["resnet18"]["blocks"] = ["layer3", "layer3.0.conv9"]
    with pytest.raises(config.ConfigError, match=r"models\.resnet18\.blocks: \['layer3\.0\.conv9'\]"):
        config.validate(cfg, schema)


def test_the_figure_is_drawn(tmp_path):
    from camsweep import plots
    from camsweep.plots.randomisation import randomisation_curves

    table = tables.cascading_randomisation_table(per_image_frame(), stats.BootstrapSettings(50), seed=0, threshold=0.5)
    figure = randomisation_curves(table, ["layer3", "layer4"], 0.5, "m on d", baselines=["uniform"])
    plots.save(figure, tmp_path / "cascade.png")
    assert (tmp_path / "cascade.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
