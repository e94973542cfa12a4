"""Discrete coordinate ascent: each user in turn moves to its best level, until no move helps.
"""

from __future__ import annotations

import numpy as np

from twin.core.errors import AignError
from twin.radio.instance import LEVEL_ATOL_MW, ProblemInstance
from twin.solvers.ranking import best_index, is_better


def _ascend(instance: ProblemInstance, idx: np.ndarray, max_sweeps: int) -> np.ndarray:
    """Discrete coordinate ascent from level indices ``idx`` until a sweep changes nothing.

    Invariant: every row of ``candidates`` equals the current powers except column ``i``,
    which holds all levels, so one batched objective call scores every level of user ``i``.
    """
    levels = instance.levels_mw
    idx = idx.copy()
    candidates = np.tile(levels[idx], (len(levels), 1))
    for _ in range(max_sweeps):
        changed = False
        for i in range(instance.n_users):
            candidates[:, i] = levels
            u, v = instance.objective(candidates)
            best, now = best_index(u, v), int(idx[i])
            if best != now and is_better(u[best], v[best], u[now], v[now]):
                idx[i] = best
                changed = True
            candidates[:, i] = levels[idx[i]]
        if not changed:
            break
    return idx


def coordinate_ascent(
    instance: ProblemInstance,
    starts: int = 4,
    seed: int = 0,
    init: np.ndarray | None = None,
    max_sweeps: int = 100,
) -> np.ndarray:
    """Multi-start discrete coordinate ascent: each user in turn moves to its best level.

    Starts, in order: ``init`` (snapped to the nearest levels: it is only a starting point) or
    the lowest level, the highest level, then random level vectors from ``seed``. Each start
    climbs until a full sweep changes nothing (or ``max_sweeps``); the best end point wins,
    ties to the earlier start. Every end point is a local optimum: no single user can improve.
    """
    levels = instance.levels_mw
    n_levels, n_users = len(levels), instance.n_users
    if init is None:
        first = np.zeros(n_users, dtype=np.intp)
    else:
        init = np.asarray(init, dtype=float)
        if init.shape != (n_users,) or not np.all(np.isfinite(init)):
            raise AignError(
                f"coordinate ascent: init must be {n_users} finite powers in mW (one per "
                f"user), got shape {init.shape}"
            )
        first = np.searchsorted(levels, instance.snap_to_levels(init) - LEVEL_ATOL_MW)
    rng = np.random.default_rng(seed)
    start_idx = [first, np.full(n_users, n_levels - 1, dtype=np.intp)]
    start_idx += list(rng.integers(0, n_levels, size=(max(starts - 2, 0), n_users)))
    ends = np.stack([_ascend(instance, s, max_sweeps) for s in start_idx[:starts]])
    u, v = instance.objective(levels[ends])
    return levels[ends[best_index(u, v)]]
