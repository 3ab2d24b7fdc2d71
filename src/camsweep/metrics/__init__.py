"""Metrics: localisation against masks and boxes, explanation stability, classification, and the registry
of every metric's stable name (:func:`get`, :func:`names`)."""

from camsweep.metrics.registry import Metric, get, names

__all__ = ["Metric", "get", "names"]
