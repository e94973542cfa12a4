"""Named random streams: every random process draws from its own stream of one seed.

Streams are derived with :class:`numpy.random.SeedSequence` from ``(seed, stream key)``, so
adding a new stream never changes the numbers an existing one produces, and the same
scenario and seed give the same run bit for bit.
"""

from __future__ import annotations

import zlib

import numpy as np

# Fixed keys: changing one changes every run that uses it.
STREAMS = ("layout", "network", "physical", "sync", "controller", "activity")


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator for stream ``name`` of ``seed``."""
    if name not in STREAMS:
        raise ValueError(f"unknown random stream {name!r}; known: {STREAMS}")
    key = zlib.crc32(name.encode())  # stable across Python runs, unlike hash()
    return np.random.default_rng(np.random.SeedSequence([int(seed), key]))
