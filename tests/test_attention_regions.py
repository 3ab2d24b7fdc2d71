"""The attention study's regions as the training run builds them (camsweep.training_runs.attention_regions): a
segmenter's region file or the split's masks, in ``region_shape``, with per-label parts of the lung box
(``region_by_class``); and the config checks of those options."""

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from camsweep import config, io, regions, segmented_regions, training_runs
from camsweep.data.imageset import ImageSet

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = config.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
CLASSES = ("No Finding", "Effusion", "Pneumothorax", "Emphysema")
STUDY = {"Effusion": "lower_half", "Pneumothorax": "upper_half", "Emphysema": "outside_columns"}


def _lungs() -> np.ndarray:
    """8×10: left lung rows 1-4, cols 1-2 (8 px); right lung rows 2-5, cols 6-8 (12 px, the larger).
    Union box: cols 1-8, rows 1-5 (height 5, middle row 3)."""
    lungs = np.zeros((8, 10), bool)
    lungs[1:5, 1:3] = True
    lungs[2:6, 6:9] = True
    return lungs


def _rect(rows: slice, cols) -> np.ndarray:
    region = np.zeros((8, 10), bool)
    region[rows, cols] = True
    return region


UNION = _rect(slice(1, 6), slice(1, 9))


def _split(masks: bool = False) -> ImageSet:
    n = len(CLASSES)
    lungs = np.stack([_lungs()] * n)
    return ImageSet(
        images=np.zeros((n, 8, 10, 3), np.uint8), labels=np.arange(n), ids=np.array([f"x{i}" for i in range(n)]),
        class_names=CLASSES, masks=lungs if masks else None,
        boxes=regions.boxes_from_masks(lungs) if masks else None,
    )


def _region_file(path: Path, split: ImageSet, foreground: bool = True) -> str:
    """A region file as workflow/scripts/segment_regions.py writes it (``foreground=False``: an older one)."""
    found = segmented_regions.regions_from_masks(np.stack([_lungs()] * len(split)), split.ids)
    arrays = {"masks": found.masks, "boxes": found.boxes, "union_boxes": found.union_boxes, "empty": found.empty,
              "ids": split.ids}
    if foreground:
        arrays["foreground"] = found.foreground
    io.save_npz(path, arrays)
    return str(path)


def _options(**extra) -> dict:
    return {"region_shape": "union_box", "skip_classes": ["No Finding"], **extra}


def test_per_label_parts_of_the_union_box_by_hand(tmp_path):
    split = _split()
    got = training_runs.attention_regions(split, _options(region_by_class=STUDY), _region_file(tmp_path / "r.npz", split))
    assert got.dtype == bool and got.shape == (4, 8, 10)
    np.testing.assert_array_equal(got[0], UNION)  # No Finding: not listed (skip_classes drops its term in the loss)
    np.testing.assert_array_equal(got[1], _rect(slice(3, 6), slice(1, 9)))  # lower half: rows 3-5, the middle row 3
    np.testing.assert_array_equal(got[2], _rect(slice(1, 3), slice(1, 9)))  # upper half: rows 1-2
    np.testing.assert_array_equal(got[3], _rect(slice(None), [0, 9]))  # outside columns 1-8, every row
    assert [int(region.sum()) for region in got] == [40, 24, 16, 16]


def test_shapes_without_parts_are_unchanged(tmp_path):
    split = _split()
    path = _region_file(tmp_path / "r.npz", split)
    both = training_runs.attention_regions(split, _options(region_shape="all_components"), path)
    np.testing.assert_array_equal(both, np.stack([_lungs()] * 4))
    one = training_runs.attention_regions(split, _options(region_shape="mask"), path)
    np.testing.assert_array_equal(one[0], _rect(slice(2, 6), slice(6, 9)))  # the right lung only
    found = segmented_regions.regions_from_masks(np.stack([_lungs()] * 4))
    for shape in segmented_regions.REGION_SHAPES:  # no region_by_class key (or an empty one): the bytes as before
        expected = segmented_regions.region_masks(found, shape)
        for options in (_options(region_shape=shape), _options(region_shape=shape, region_by_class={})):
            got = training_runs.attention_regions(split, options, path)
            assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


def test_truth_regions_take_parts_of_the_masks_union_box():
    split = _split(masks=True)
    np.testing.assert_array_equal(
        training_runs.attention_regions(split, _options(region_shape="all_components"), None), split.masks)
    got = training_runs.attention_regions(split, _options(region_shape="all_components", region_by_class=STUDY), None)
    np.testing.assert_array_equal(got[0], split.masks[0])
    np.testing.assert_array_equal(got[1], _rect(slice(3, 6), slice(1, 9)))


def test_an_older_region_file_serves_the_old_shapes_and_asks_to_be_remade_for_all_components(tmp_path):
    split = _split()
    path = _region_file(tmp_path / "old.npz", split, foreground=False)
    np.testing.assert_array_equal(training_runs.attention_regions(split, _options(), path), np.stack([UNION] * 4))
    with pytest.raises(ValueError, match="all_components.*delete it so that it is remade"):
        training_runs.attention_regions(split, _options(region_shape="all_components"), path)


def test_unknown_class_names_the_key_and_the_valid_classes(tmp_path):
    split = _split()
    path = _region_file(tmp_path / "r.npz", split)
    message = (r"train.attention.region_by_class: \['Efusion'\] are not classes of the dataset "
               r"\['No Finding', 'Effusion', 'Pneumothorax', 'Emphysema'\]; did you mean 'Effusion'\?")
    with pytest.raises(ValueError, match=message):
        training_runs.attention_regions(split, _options(region_by_class={"Efusion": "lower_half"}), path)


class _Stop(Exception):
    pass


def test_train_classifier_hands_the_per_label_regions_to_the_attention_loss(tmp_path, monkeypatch):
    cfg = config.validate(yaml.safe_load((ROOT / "config/config.yaml").read_text()), SCHEMA)
    options = copy.deepcopy(cfg["models"]["resnet18"])
    options["train"]["attention"] = {"layer": "layer4", "ce_weight": 0.5, "loss": "mass", "threshold": 0.5,
                                     "temperature": 0.05, "skip_classes": ["No Finding"], "region": "lungs",
                                     "region_shape": "union_box", "region_by_class": STUDY}
    split = _split()
    files = [_region_file(tmp_path / "train.npz", split), _region_file(tmp_path / "val.npz", split)]
    seen = {}

    def objective(settings, train_regions, val_regions):
        seen.update(settings=settings, train=train_regions, val=val_regions)
        raise _Stop  # what follows is ordinary training, tested elsewhere

    monkeypatch.setattr(training_runs.attention, "AttentionObjective", objective)
    with pytest.raises(_Stop):
        training_runs.train_classifier(split, split, split, options, seed=0, device="cpu", region_files=files)
    assert seen["settings"].skip_classes == (0,)
    for built in (seen["train"], seen["val"]):
        assert [int(region.sum()) for region in built] == [40, 24, 16, 16]
        np.testing.assert_array_equal(built[1], _rect(slice(3, 6), slice(1, 9)))


# --- config checks ---------------------------------------------------------------------------------


@pytest.fixture()
def default():
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def _problems(cfg) -> str:
    with pytest.raises(config.ConfigError) as error:
        config.validate(cfg, SCHEMA)
    return str(error.value)


def _with_attention(cfg, **attention):
    cfg["models"]["resnet18"]["train"]["attention"] = {"layer": "layer4", **attention}
    return cfg


def test_config_accepts_the_options_and_adds_no_default(default):
    validated = config.validate(_with_attention(copy.deepcopy(default)), SCHEMA)
    assert "region_by_class" not in validated["models"]["resnet18"]["train"]["attention"]
    cfg = _with_attention(copy.deepcopy(default), region_shape="all_components", skip_classes=["cross"],
                          region_by_class={"circle": "lower_half", "square": "upper_half", "triangle": "whole"})
    assert config.validate(cfg, SCHEMA)["models"]["resnet18"]["train"]["attention"]["region_by_class"]["square"] == "upper_half"


def test_config_names_a_bad_class_a_bad_part_and_a_skipped_class(default):
    found = _problems(_with_attention(copy.deepcopy(default), region_by_class={"circel": "lower_half"}))
    assert ("models.resnet18.train.attention.region_by_class: ['circel'] are not classes of datasets.shapes "
            "['circle', 'square', 'triangle', 'cross']; did you mean 'circle'?") in found
    found = _problems(_with_attention(copy.deepcopy(default), region_by_class={"circle": "bottom_half"}))
    assert ("models.resnet18.train.attention.region_by_class.circle: 'bottom_half' is not allowed; "
            "valid: ['whole', 'lower_half', 'upper_half', 'outside_columns']") in found
    found = _problems(_with_attention(copy.deepcopy(default), region_shape="lungs"))
    assert "valid: ['mask', 'all_components', 'box', 'union_box']" in found
    found = _problems(_with_attention(copy.deepcopy(default), skip_classes=["circle"], region_by_class={"circle": "whole"}))
    assert "models.resnet18.train.attention.region_by_class: ['circle'] are also in skip_classes" in found
    cfg = copy.deepcopy(default)
    cfg["shortcut"]["attention"]["region_by_class"] = {"sqare": "upper_half"}
    assert "shortcut.attention.region_by_class: ['sqare'] are not classes of datasets.shapes" in _problems(cfg)
