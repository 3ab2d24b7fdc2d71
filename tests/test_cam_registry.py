"""The CAM-method registry: one declaration per method, which the engine, the workflow and the config follow."""

from pathlib import Path

import jsonschema
import pytest
import torch
from torch import nn

from camsweep import cams, config
from camsweep.cams import registry

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = config.load_schema(ROOT / "workflow/schemas/config.schema.yaml")


def test_built_in_methods_their_kinds_and_order():
    assert cams.METHODS == ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam", "scorecam",
                            "ablationcam", "random", "centre", "uniform")
    assert cams.SHARED_PASS_METHODS == ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam",
                                        "random", "centre", "uniform")
    assert cams.RERUN_METHODS == ("scorecam", "ablationcam")
    assert cams.GRADIENT_METHODS == ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam")
    assert cams.BASELINES == ("random", "centre", "uniform")
    assert [name for name in cams.METHODS if not registry.get(name).needs_targets] == [
        "eigencam", "random", "centre", "uniform"]


def test_the_schema_takes_its_method_enums_from_the_registry():
    assert SCHEMA["$defs"]["cam_method"]["enum"] == list(cams.METHODS)
    assert SCHEMA["$defs"]["gradient_cam_method"]["enum"] == list(cams.GRADIENT_METHODS)
    text = (ROOT / "workflow/schemas/config.schema.yaml").read_text()
    assert "eigencam" not in text, "the schema names no CAM method: $defs/cam_method is filled from the registry"
    assert text.count("#/$defs/cam_method") >= 5  # every method field refers to the one enum


def test_config_validation_uses_the_shared_enum():
    cams_schema = {"$defs": SCHEMA["$defs"], **SCHEMA["properties"]["cams"]}
    section = {"methods": ["gradcam", "gradcamm"], "layers": {"scorecm": ["layer4"]}}
    errors = jsonschema.Draft202012Validator(cams_schema).iter_errors(section)
    messages = sorted(config._describe(error) for error in errors)
    valid = list(cams.METHODS)
    assert messages == [
        f"layers: unknown key 'scorecm'; valid: {valid}; did you mean 'scorecam'?",
        f"methods.1: 'gradcamm' is not allowed; valid: {valid}; did you mean 'gradcam', 'xgradcam' or 'gradcam++'?",
    ]


class Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(3, 4, 1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


@pytest.fixture()
def toy_methods():
    """A shared method (constant maps, class-agnostic) and a rerun one (each map is the image's logit of
    its target, from a forward pass of its own), registered for the test only."""
    def rerun(model, layers, settings):
        def run(batch, targets):
            scores = targets.bind(model(batch)).scores(model(batch))
            return {layer: scores[:, None, None].expand(-1, 5, 7).clone() for layer in layers}
        return run

    added = [
        registry.register(registry.Method("constant", "shared", lambda a, g: torch.ones_like(a[:, 0]),
                                          needs_gradients=False, needs_targets=False)),
        registry.register(registry.Method("logit", "rerun", rerun)),
    ]
    yield added
    for method in added:
        registry.unregister(method.name)


def test_a_registered_method_is_dispatched_without_touching_anything_else(toy_methods):
    torch.manual_seed(0)
    model, images = Conv().eval(), torch.randn(3, 3, 5, 7)
    maps = cams.compute_many(model, images, ["constant", "gradcam", "logit"], ["features"], [0, 1, 0], batch_size=2)
    assert list(maps) == ["constant", "gradcam", "logit"]
    torch.testing.assert_close(maps["constant"]["features"], torch.ones(3, 5, 7))
    logits = model(images)[torch.arange(3), torch.tensor([0, 1, 0])].detach()
    torch.testing.assert_close(maps["logit"]["features"], logits[:, None, None].expand(-1, 5, 7))
    alone = cams.compute(model, images, "gradcam", ["features"], [0, 1, 0])["features"]
    assert torch.equal(maps["gradcam"]["features"], alone)  # the shared pass is unchanged by its new neighbour
    assert cams.compute(model, images, "constant", ["features"], None)["features"].shape == (3, 5, 7)  # class-agnostic
    with pytest.raises(ValueError, match="targets are required for every method except eigencam, random, centre, uniform, constant"):
        cams.compute(model, images, "logit", ["features"], None)


def test_maps_by_method_runs_each_method_on_its_layers():
    torch.manual_seed(0)
    model, images = Conv().eval(), torch.randn(3, 3, 5, 7)
    maps = cams.maps_by_method(model, images, ["gradcam", "eigencam"], {"gradcam": ["features"], "eigencam": ["features"]},
                               [0, 1, 0])
    expected = cams.compute(model, images, "gradcam", ["features"], [0, 1, 0])["features"].numpy()
    assert maps["gradcam"]["features"].dtype == "float32" and (maps["gradcam"]["features"] == expected).all()
    assert list(maps) == ["gradcam", "eigencam"]


def test_bad_declarations():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.Method("gradcam", "shared", lambda a, g: a[:, 0]))
    with pytest.raises(ValueError, match="unknown kind 'both'"):
        registry.Method("x", "both", lambda a, g: a[:, 0])
    with pytest.raises(ValueError, match="unknown CAM method 'nope'"):
        registry.get("nope")


def test_a_registered_method_is_a_valid_config_value_with_no_other_change(toy_methods):
    schema = config.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
    assert schema["$defs"]["cam_method"]["enum"][-2:] == ["constant", "logit"]
    cams_schema = {"$defs": schema["$defs"], **schema["properties"]["cams"]}
    section = {"methods": ["gradcam", "constant", "logit"], "layers": {"logit": ["layer4"]}}
    assert not list(jsonschema.Draft202012Validator(cams_schema).iter_errors(section))
