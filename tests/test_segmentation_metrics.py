import numpy as np
import pytest

from camsweep.metrics import segmentation


def test_dice_and_iou_by_hand():
    truth = np.zeros((4, 4), bool)
    truth[:2, :2] = True  # 4 pixels
    predicted = np.zeros((4, 4), bool)
    predicted[:2, 1:3] = True  # 4 pixels, 2 shared
    assert segmentation.dice(predicted, truth) == pytest.approx(2 * 2 / 8)
    assert segmentation.iou(predicted, truth) == pytest.approx(2 / 6)


def test_batched_and_empty_conventions():
    truth = np.zeros((3, 2, 2), bool)
    predicted = np.zeros((3, 2, 2), bool)
    truth[1, 0, 0] = True  # image 1: missed entirely
    predicted[2, 1, 1] = True  # image 2: false positive only
    np.testing.assert_array_equal(segmentation.dice(predicted, truth), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(segmentation.iou(predicted, truth), [1.0, 0.0, 0.0])


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="share a shape"):
        segmentation.dice(np.zeros((2, 2), bool), np.zeros((3, 3), bool))
