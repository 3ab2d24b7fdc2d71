"""Metrics: localisation against masks and boxes, explanation stability, classification."""
