"""Figures. Every module draws one kind of figure; :func:`save` writes PNG and PDF reproducibly."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from camsweep import io  # noqa: E402

# Fixed metadata: no timestamps or version strings, so the same figure gives the same bytes.
_METADATA = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}


def method_order(methods, baselines=()) -> list[str]:
    """Methods sorted, then the baseline maps (which every method is read against) in their given order."""
    present = set(methods)
    return sorted(present - set(baselines)) + [b for b in baselines if b in present]


def method_title(method: str, baselines=()) -> str:
    return f"{method} (baseline)" if method in baselines else method


def save(figure: plt.Figure, *paths: str | os.PathLike) -> None:
    """Save ``figure`` to each path (format from the suffix), atomically, then close it."""
    for path in paths:
        fmt = os.fspath(path).rsplit(".", 1)[-1]
        with io.atomic_path(path) as tmp:
            figure.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight", metadata=_METADATA.get(fmt))
    plt.close(figure)
