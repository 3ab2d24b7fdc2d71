"""Deterministic random generators keyed by what a draw is for.

Every random draw in camsweep comes from a generator seeded by the global seed and a tuple of keys
(stage, dataset, image id, perturbation, severity, ...), never from global state. Results therefore do
not depend on sharding, job order or the number of cores.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key_to_int(key: object) -> int:
    # A stable 64-bit integer per key; Python's hash() is salted per process, so it cannot be used.
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def seed_sequence(seed: int, *keys: object) -> np.random.SeedSequence:
    """SeedSequence for ``seed`` and an ordered tuple of keys (strings, ints)."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence([int(seed), *(_key_to_int(k) for k in keys)])


def rng(seed: int, *keys: object) -> np.random.Generator:
    """A NumPy generator for ``seed`` and ``keys``; same arguments give the same stream."""
    return np.random.default_rng(seed_sequence(seed, *keys))


def int_seed(seed: int, *keys: object) -> int:
    """A 63-bit integer seed (for torch.Generator.manual_seed) derived from ``seed`` and ``keys``."""
    return int(seed_sequence(seed, *keys).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
