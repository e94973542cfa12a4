"""Ranking designs: least total constraint violation first, then highest utility.

So a feasible design always beats an infeasible one, whatever their utilities.
"""

from __future__ import annotations

import numpy as np

# A move in coordinate ascent must improve utility by more than this (relative) amount, so
# that round-off can never make two equally good levels swap back and forth.
IMPROVEMENT_RTOL = 1e-12


def best_index(utility: np.ndarray, violation: np.ndarray) -> int:
    """Index of the best candidate: least violation, then highest utility; ties go first."""
    least = violation == np.min(violation)
    return int(np.argmax(np.where(least, utility, -np.inf)))


def is_better(u_new: float, v_new: float, u_old: float, v_old: float) -> bool:
    """Whether ``(u_new, v_new)`` strictly beats ``(u_old, v_old)`` in the lexicographic order."""
    if v_new != v_old:
        return v_new < v_old
    return u_new > u_old + IMPROVEMENT_RTOL * max(1.0, abs(u_old))
