"""Metrics: localisation against masks and boxes, explanation stability, classification, and the registry
of every metric's stable name (:func:`get`, :func:`names`)."""

from camsweep.metrics.registry import FAITHFULNESS_COLUMNS, Metric, get, names

__all__ = ["FAITHFULNESS_COLUMNS", "Metric", "get", "names"]
