"""Figures. Every module draws one kind of figure; :func:`save` writes PNG and PDF reproducibly."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from camsweep import io  # noqa: E402

# Fixed metadata: no timestamps or version strings, so the same figure gives the same bytes.
_METADATA = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}


def save(figure: plt.Figure, *paths: str | os.PathLike) -> None:
    """Save ``figure`` to each path (format from the suffix), atomically, then close it."""
    for path in paths:
        fmt = os.fspath(path).rsplit(".", 1)[-1]
        with io.atomic_path(path) as tmp:
            figure.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight", metadata=_METADATA.get(fmt))
    plt.close(figure)
