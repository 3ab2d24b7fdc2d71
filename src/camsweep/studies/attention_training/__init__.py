"""Attention training: the λ table of classifiers trained with the Grad-CAM attention term
(:mod:`.lambda_table`), and the shortcut demonstration (:mod:`.shortcut`: evaluation and table;
:mod:`.figures`).

The names below are what the workflow reads when it parses (kept here, free of heavy imports)."""

from __future__ import annotations

from collections.abc import Mapping

# The shortcut demonstration's two trainings and its three test sets (marker as in training, none, another
# class's marker).
SHORTCUT_TRAININGS = ("ce", "attention")
SHORTCUT_MARKERS = ("correlated", "absent", "shuffled")


def ce_weight_label(model: Mapping) -> str:
    """λ of a configured classifier: "1" for cross-entropy only, else its attention ce_weight (a number or
    "adaptive")."""
    attention = model["train"]["attention"]
    return "1" if attention is None else str(attention["ce_weight"])
