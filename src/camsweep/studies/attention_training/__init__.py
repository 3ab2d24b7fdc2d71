"""Attention training: the λ table of classifiers trained with the Grad-CAM attention term
(:mod:`.lambda_table`), and the shortcut demonstration (:mod:`.shortcut`: evaluation and table;
:mod:`.figures`).

The names below are what the workflow reads when it parses (kept here, free of heavy imports)."""

from __future__ import annotations

from collections.abc import Mapping

from camsweep import seeding

# The shortcut demonstration's two trainings and its three test sets (marker as in training, none, another
# class's marker).
SHORTCUT_TRAININGS = ("ce", "attention")
SHORTCUT_MARKERS = ("correlated", "absent", "shuffled")


def shortcut_seed(seed: int, index: int) -> int:
    """The training seed of the shortcut study's seed index (``shortcut.seeds``): the run's seed itself for
    index 0, so one seed trains today's models, and ``seeding.int_seed(seed, "shortcut", index)`` for the
    others. Both trainings (cross-entropy, attention) of an index share it: the same start and batch order."""
    if not isinstance(index, int) or index < 0:
        raise ValueError(f"seed index must be a non-negative integer, got {index!r}")
    return seed if index == 0 else seeding.int_seed(seed, "shortcut", index)


def shortcut_seed_dir(index: int) -> str:
    """The folder part of seed index ``index``'s files under results/shortcut/{dataset}/{model}/: none for
    index 0 (one seed keeps today's paths), ``seed<index>/`` for the others."""
    return f"seed{index}/" if index else ""


def shortcut_seed_index(seed_dir: str) -> int:
    """The seed index of a :func:`shortcut_seed_dir` value."""
    return int(seed_dir.removeprefix("seed").removesuffix("/") or 0)


def ce_weight_label(model: Mapping) -> str:
    """λ of a configured classifier: "1" for cross-entropy only, else its attention ce_weight (a number or
    "adaptive")."""
    attention = model["train"]["attention"]
    return "1" if attention is None else str(attention["ce_weight"])
