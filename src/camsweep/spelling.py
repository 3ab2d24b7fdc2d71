"""Suggestions for misspelt names ("did you mean ...?"), for config keys and file layouts alike."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def close_matches(word: Any, choices: Iterable[Any], n: int = 3) -> list[Any]:
    """The valid ``choices`` nearest to a misspelt ``word`` (case-insensitive ``difflib``; [] for non-strings)."""
    if not isinstance(word, str):
        return []
    lowered: dict[str, Any] = {}
    for choice in choices:
        if isinstance(choice, str):
            lowered.setdefault(choice.lower(), choice)
    return [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.6)]


def did_you_mean(word: Any, choices: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``) for a misspelt ``word``; empty when nothing is close."""
    matches = close_matches(word, choices)
    if not matches:
        return ""
    listed = ", ".join(map(repr, matches[:-1])) + " or " if len(matches) > 1 else ""
    return f"; did you mean {listed}{matches[-1]!r}?"
