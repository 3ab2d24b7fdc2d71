import numpy as np
import pytest
import torch
from torch import nn

from camsweep import regions
from camsweep.data import synthetic
from camsweep.data.imageset import ImageSet
from camsweep.models import segmentation, training
from camsweep.models.segmenters import UNet


def _split(images, labels, masks, class_names=("a", "b")):
    masks = np.asarray(masks, bool)
    return ImageSet(
        images=np.asarray(images, np.uint8), labels=np.asarray(labels, np.int64),
        ids=np.array([f"img{i}" for i in range(len(labels))]), class_names=class_names,
        masks=masks, boxes=regions.boxes_from_masks(masks),
    )


@pytest.fixture()
def hand_split():
    """Two 8×8 images: image 0 (label 1) constant (0, 51, 255), image 1 (label 0) constant (0, 153, 255)."""
    images = np.zeros((2, 8, 8, 3), np.uint8)
    images[0] = (0, 51, 255)
    images[1] = (0, 153, 255)
    masks = np.zeros((2, 8, 8), bool)
    masks[0, 1:3, 2:5] = True
    masks[1, 6, 7] = True
    return _split(images, [1, 0], masks)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny convolutions: with two threads on a busy two-core machine, OpenMP barriers make a 0.1 s
    training smoke take seconds; one thread keeps these tests fast (results do not depend on it here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_splits():
    spec = synthetic.SyntheticSpec(image_size=32, classes=("circle", "square"))
    return synthetic.generate(spec, 16, "train", 0), synthetic.generate(spec, 8, "val", 0)


def test_targets_binary_and_per_class(hand_split):
    binary = segmentation.targets_from(hand_split, "binary")
    per_class = segmentation.targets_from(hand_split, "per_class")
    assert binary.dtype == np.int64 and per_class.dtype == np.int64 and binary.shape == (2, 8, 8)
    expected = np.zeros((2, 8, 8), np.int64)
    expected[0, 1:3, 2:5] = 1
    expected[1, 6, 7] = 1
    np.testing.assert_array_equal(binary, expected)
    expected[0, 1:3, 2:5] = 2  # label 1 → channel 2
    expected[1, 6, 7] = 1  # label 0 → channel 1
    np.testing.assert_array_equal(per_class, expected)


def test_spec_for_channels_and_normalisation(hand_split):
    spec = segmentation.spec_for(hand_split, "per_class", widths=(4, 8, 8, 16))
    assert spec.channel_names == ("background", "a", "b") and spec.num_classes == 3 and spec.masks == "per_class"
    assert spec.widths == (4, 8, 8, 16)
    # Red 0 everywhere; green 51 and 153 in equal numbers → mean 102, std 51; blue 255 everywhere.
    np.testing.assert_allclose(spec.mean, (0.0, 0.4, 1.0), atol=1e-12)
    np.testing.assert_allclose(spec.std, (0.0, 0.2, 0.0), atol=1e-12)
    binary = segmentation.spec_for(hand_split, "binary")
    assert binary.channel_names == ("background", "foreground") and binary.num_classes == 2
    assert binary.widths == segmentation.DEFAULT_WIDTHS
    model = segmentation.build(spec)
    assert isinstance(model, UNet) and model.head.out_channels == 3


def test_spec_for_and_targets_errors(hand_split):
    with pytest.raises(ValueError, match="unknown segmenter masks 'instance'; valid: binary, per_class"):
        segmentation.spec_for(hand_split, "instance")
    with pytest.raises(ValueError, match="unknown segmenter masks 'instance'"):
        segmentation.targets_from(hand_split, "instance")
    no_masks = ImageSet(images=hand_split.images, labels=hand_split.labels, ids=hand_split.ids, class_names=hand_split.class_names)
    with pytest.raises(ValueError, match="needs ground-truth masks, but this split has none"):
        segmentation.spec_for(no_masks, "binary")
    with pytest.raises(ValueError, match="needs ground-truth masks, but this split has none"):
        segmentation.targets_from(no_masks, "per_class")
    with pytest.raises(ValueError, match="binary masks have channels"):
        segmentation.SegmenterSpec("binary", ("background", "a", "b"))


def test_preprocess_needs_sides_divisible_by_8(hand_split):
    spec = segmentation.SegmenterSpec("binary", ("background", "foreground"), mean=(0.0, 0.4, 1.0), std=(1.0, 0.2, 1.0))
    out = segmentation.preprocess(hand_split.images, spec)
    assert out.shape == (2, 3, 8, 8) and out.dtype == torch.float32
    # Image 0: green 51/255 = 0.2 → (0.2 − 0.4) / 0.2 = −1; blue (1 − 1) / 1 = 0.
    np.testing.assert_allclose(out[0, :, 0, 0].numpy(), [0.0, -1.0, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="divisible by 8, got 12×16"):
        segmentation.preprocess(np.zeros((1, 12, 16, 3), np.uint8), spec)


def test_flip_moves_image_and_mask_together():
    generator = torch.Generator().manual_seed(3)
    target = torch.zeros(64, 4, 6, dtype=torch.int64)
    target[:, 0, 1] = 1  # a foreground pixel near the top-left corner
    batch = target[:, None].float().repeat(1, 3, 1, 1) * torch.arange(1, 4).view(1, 3, 1, 1)
    flips = training.draw_flips(len(batch), generator)
    flipped, flipped_target = training.apply_flips(batch, *flips), training.apply_flips(target, *flips)
    np.testing.assert_array_equal(flipped[:, 0].numpy(), flipped_target.numpy())
    # The draws and flips of the segmenter's own loop before it shared training.fit.
    generator = torch.Generator().manual_seed(3)
    horizontal, vertical = (torch.rand(64, generator=generator) < 0.5 for _ in range(2))
    before = torch.where(vertical.view(-1, 1, 1), torch.where(horizontal.view(-1, 1, 1), target.flip(2), target).flip(1),
                         torch.where(horizontal.view(-1, 1, 1), target.flip(2), target))
    assert torch.equal(flipped_target, before)
    # All four corners occur: (row, col) of the pixel is (0|3, 1|4).
    rows, cols = np.nonzero(flipped_target.numpy())[1:]
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {(0, 1), (0, 4), (3, 1), (3, 4)}


def test_soft_dice_loss_by_hand():
    logits = torch.zeros(1, 2, 2, 2)  # every probability 0.5
    target = torch.zeros(1, 2, 2, dtype=torch.int64)
    target[0, 0, 0] = 1
    # overlap 0.5, |P| = 2, |G| = 1 → Dice (2·0.5 + 1) / (3 + 1) = 0.5
    assert segmentation.soft_dice_loss(logits, target).item() == pytest.approx(0.5)
    confident = torch.full((1, 2, 2, 2), -50.0)
    confident[0, 1][target[0] == 1] = 50.0
    confident[0, 0][target[0] == 0] = 50.0
    assert segmentation.soft_dice_loss(confident, target).item() == pytest.approx(0.0, abs=1e-6)


def test_training_smoke_is_deterministic(tiny_splits):
    spec = segmentation.spec_for(tiny_splits[0], "binary", widths=(4, 8, 8, 16))
    settings = segmentation.SegmenterTrainSettings(epochs=1, batch_size=8, precision="float32")
    runs = [segmentation.train(spec, *tiny_splits, settings, seed=seed, progress=False) for seed in (0, 0, 1)]
    first, again, other = (dict(model.state_dict()) for model, _ in runs)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    assert not runs[0][0].training
    (record,) = runs[0][1]
    assert set(record) == {"epoch", "precision", "train_loss", "val_loss", "val_dice", "val_iou", "seconds"}
    assert record["precision"] == "float32" and np.isfinite(record["train_loss"]) and 0 <= record["val_dice"] <= 1
    probs = segmentation.predict(runs[0][0], spec, tiny_splits[1].images, batch_size=3)
    assert probs.shape == (8, 2, 32, 32) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_training_per_class_with_autocast(tiny_splits):
    spec = segmentation.spec_for(tiny_splits[0], "per_class", widths=(4, 8, 8, 16))
    settings = segmentation.SegmenterTrainSettings(epochs=1, batch_size=8, precision="bfloat16", dice_weight=1.0)
    model, history = segmentation.train(spec, *tiny_splits, settings, seed=0, progress=False)
    assert history[0]["precision"] == "bfloat16" and np.isfinite(history[0]["train_loss"])
    assert segmentation.predict(model, spec, tiny_splits[1].images).shape == (8, 3, 32, 32)


def test_predicted_masks_by_hand():
    probs = np.zeros((1, 3, 1, 3), np.float32)
    probs[0, :, 0, 0] = (0.6, 0.3, 0.1)
    probs[0, :, 0, 1] = (0.2, 0.5, 0.3)
    probs[0, :, 0, 2] = (0.1, 0.2, 0.7)
    np.testing.assert_array_equal(segmentation.predicted_masks(probs, 0), [[[True, False, False]]])
    np.testing.assert_array_equal(segmentation.predicted_masks(probs, 2), [[[False, False, True]]])
    np.testing.assert_array_equal(segmentation.foreground_masks(probs), [[[False, True, True]]])
    with pytest.raises(ValueError, match="channel 3 is outside the 3 output channels"):
        segmentation.predicted_masks(probs, 3)


class _RedIsForeground(nn.Module):
    """Logits (background, foreground) = (0.5 − red, red − 0.5) for inputs already on [0, 1]."""

    def forward(self, x):
        red = x[:, :1]
        return torch.cat([0.5 - red, red - 0.5], dim=1)


def test_evaluate_dice_and_iou_by_hand():
    images = np.zeros((2, 8, 8, 3), np.uint8)
    masks = np.zeros((2, 8, 8), bool)
    images[0, 0:2, 0:2, 0] = 255  # predicted: 4 pixels
    masks[0, 0:2, 0:4] = True  # truth: 8 pixels containing them → Dice 8/12, IoU 4/8
    images[1, 3:6, 3:6, 0] = 255
    masks[1, 3:6, 3:6] = True  # exact → 1, 1
    split = _split(images, [0, 1], masks)
    spec = segmentation.SegmenterSpec("binary", ("background", "foreground"), widths=(4, 4, 4, 4), mean=(0, 0, 0), std=(1, 1, 1))
    result = segmentation.evaluate(_RedIsForeground(), spec, split)
    np.testing.assert_allclose(result["per_image_dice"], [2 / 3, 1.0])
    np.testing.assert_allclose(result["per_image_iou"], [0.5, 1.0])
    assert result["dice"] == pytest.approx(5 / 6) and result["iou"] == pytest.approx(0.75)


def test_checkpoint_round_trip_and_clear_errors(tmp_path, tiny_splits):
    spec = segmentation.spec_for(tiny_splits[0], "per_class", widths=(4, 8, 8, 16))
    model = segmentation.init_model(spec, seed=0).eval()
    path = tmp_path / "seg.pt"
    segmentation.save_checkpoint(path, model, spec, {"note": 1})
    loaded, loaded_spec, meta = segmentation.load_checkpoint(path, expected_channels=("background", "circle", "square"))
    assert loaded_spec == spec and meta == {"note": 1} and not loaded.training
    images = tiny_splits[1].images
    np.testing.assert_array_equal(segmentation.predict(model, spec, images), segmentation.predict(loaded, spec, images))

    with pytest.raises(ValueError) as caught:
        segmentation.load_checkpoint(path, expected_channels=("background", "foreground"))
    message = str(caught.value)
    assert str(path) in message
    assert "3 output channels ['background', 'circle', 'square']" in message
    assert "expects 2 channels ['background', 'foreground']" in message
    assert "retrain" in message and "masks" in message

    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        segmentation.load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.pt: not a usable camsweep segmenter checkpoint"):
        segmentation.load_checkpoint(tmp_path / "junk.pt")


def test_segmenter_stays_traceable_by_fx():
    spec = segmentation.SegmenterSpec("binary", ("background", "foreground"), widths=(4, 8, 8, 16))
    model = segmentation.build(spec).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(traced(x), model(x))


def test_channel_index_names_the_key_and_the_valid_channels():
    spec = segmentation.SegmenterSpec("per_class", ("background", "circle", "square"))
    assert spec.channel_index("square") == 2
    with pytest.raises(ValueError, match=r"segmenters.unet.cams.target: 'lungs' is not an output channel .*'background', 'circle', 'square'"):
        spec.channel_index("lungs", "segmenters.unet.cams.target")
