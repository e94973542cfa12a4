"""How torch runs here: CPU thread count, set for the duration of a call and restored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` intra-op CPU threads (``None``: leave torch's setting).

    The networks here are small: one thread avoids OpenMP start-up and, on a shared or busy
    machine, spin-waiting threads that made sampling 10x slower in our measurements.
    """
    if threads is None:
        yield
        return
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
