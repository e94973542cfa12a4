"""The exact optimum: every one of the ``L**U`` level combinations, scored in batches.
"""

from __future__ import annotations

import math

import numpy as np

from twin.core.errors import TooLargeError
from twin.radio.instance import ProblemInstance
from twin.solvers.ranking import best_index

# Rows scored per batched call in exhaustive search: large enough to amortize numpy call
# overhead, small enough that the (rows, U) temporaries stay in the tens of MB.
EXHAUSTIVE_CHUNK_ROWS = 200_000
DEFAULT_MAX_EVALUATIONS = 2_000_000


def _approx_log10(log10: float) -> str:
    """A huge count, given by its base-10 logarithm, in short scientific form (neither a float,
    which overflows beyond ~1e308, nor the exact integer, whose digits Python refuses to print
    beyond 4300)."""
    exponent = math.floor(log10)
    return f"{10 ** (log10 - exponent):.3g}e+{exponent}"


def check_exhaustive_size(instance: ProblemInstance, max_evaluations: int) -> int:
    """Number of combinations exhaustive search would score; refuse if above the limit."""
    n_levels, n_users = len(instance.levels_mw), instance.n_users
    log10 = n_users * math.log10(max(n_levels, 1))
    if log10 > math.log10(max(max_evaluations, 1)) + 1e-9:
        raise TooLargeError(
            f"exhaustive search over {n_levels} levels for {n_users} users needs "
            f"{n_levels}^{n_users} = {_approx_log10(log10)} evaluations, above the limit of "
            f"{max_evaluations:,}; use coordinate or wmmse (or raise max_evaluations)"
        )
    combos = n_levels**n_users  # small here: at most max_evaluations (and rounding)
    if combos > max_evaluations:
        raise TooLargeError(
            f"exhaustive search over {n_levels} levels for {n_users} users needs "
            f"{combos:,} evaluations, above the limit of {max_evaluations:,}; use coordinate "
            "or wmmse (or raise max_evaluations)"
        )
    return combos


def exhaustive(
    instance: ProblemInstance, max_evaluations: int = DEFAULT_MAX_EVALUATIONS
) -> np.ndarray:
    """The exact optimum: score every level combination, in batched chunks.

    Combinations are enumerated in lexicographic order of level indices (user 0 slowest), and
    ties keep the first, so the result is deterministic.
    """
    combos = check_exhaustive_size(instance, max_evaluations)
    levels = instance.levels_mw
    shape = (len(levels),) * instance.n_users
    best_power, best_u, best_v = None, -np.inf, np.inf
    for start in range(0, combos, EXHAUSTIVE_CHUNK_ROWS):
        flat = np.arange(start, min(start + EXHAUSTIVE_CHUNK_ROWS, combos))
        power = levels[np.stack(np.unravel_index(flat, shape), axis=-1)]
        u, v = instance.objective(power)
        k = best_index(u, v)
        if best_power is None or (v[k], -u[k]) < (best_v, -best_u):
            best_power, best_u, best_v = power[k], float(u[k]), float(v[k])
    assert best_power is not None  # combos >= 1
    return best_power.copy()
