"""The metric registry: stable names, levels, and agreement with what the score stage writes."""

import pytest

from camsweep import metrics, tables
from camsweep.metrics import localisation


def test_every_scored_column_is_registered_once():
    for name in tables.SCORE_COLUMNS:
        assert metrics.get(name).level == "image"
    assert len(set(metrics.names())) == len(metrics.names())
    assert set(metrics.names(needs="ground_truth")) >= {*localisation.METRIC_NAMES, *localisation.SEED_METRIC_NAMES}


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="unknown metric 'le_bx'; valid: iou_box, iou_mask, le_box"):
        metrics.get("le_bx")


def test_directions():
    assert metrics.get("le_mask").higher_is_better is False
    assert metrics.get("energy_pg_mask").higher_is_better is True
    assert metrics.get("cam_rmse").needs == "clean_map"


def test_issue_names_are_all_registered():
    required = """le_box le_mask pointing_game_box pointing_game_mask energy_pg_box energy_pg_mask f1_box f1_mask
    soft_f_box soft_f_mask iou_box iou_mask mae box_acc max_box_acc_v2 pxap saliency_metric warping_error
    average_drop increase_in_confidence insertion_auc deletion_auc cam_rmse""".split()
    for name in required:
        metrics.get(name)
    assert metrics.get("pxap").level == metrics.get("max_box_acc_v2").level == "dataset"
    assert set(metrics.FAITHFULNESS_COLUMNS) <= set(metrics.names(needs="model"))
