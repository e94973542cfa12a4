"""The solvers as they were before the incremental rewrite (issue 13), kept as the reference
that the new ones must match design for design, and that ``benchmarks/classical.py`` times
them against. Not part of the package: nothing outside tests and that benchmark uses it.

Coordinate ascent re-scores the whole objective for every user and level (``O(L U^2 B)`` per
sweep); WMMSE calls the radio helpers every iteration.
"""

from __future__ import annotations

import math

import numpy as np

from twin.radio.instance import LEVEL_ATOL_MW, ProblemInstance
from twin.radio.uplink import interference_mw, rate_bps, serving_gain
from twin.solvers.ranking import best_index, is_better
from twin.solvers.wmmse import snap_keeping_on

# Two violations closer than this (but not equal) were told apart by round-off alone.
ROUNDOFF_VIOLATION = 1e-9


def _ascend(
    instance: ProblemInstance, idx: np.ndarray, max_sweeps: int, roundoff: list[bool]
) -> np.ndarray:
    """As before, plus: appends to ``roundoff`` whether round-off decided a move: the full
    objective of each row recomputes every received power, so mathematically equal
    violations can differ in the last bits, and a level that had the higher utility among
    levels tied up to round-off can lose to one with a violation smaller by an ulp."""
    levels = instance.levels_mw
    idx = idx.copy()
    candidates = np.tile(levels[idx], (len(levels), 1))
    for _ in range(max_sweeps):
        changed = False
        for i in range(instance.n_users):
            candidates[:, i] = levels
            u, v = instance.objective(candidates)
            best, now = best_index(u, v), int(idx[i])
            near = v - np.min(v) < ROUNDOFF_VIOLATION
            roundoff.append(int(np.argmax(np.where(near, u, -np.inf))) != best)
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
    roundoff: list[bool] | None = None,
) -> np.ndarray:
    """As before; ``roundoff`` (a list) collects, move by move, whether round-off decided it."""
    roundoff = [] if roundoff is None else roundoff
    levels = instance.levels_mw
    n_levels, n_users = len(levels), instance.n_users
    if init is None:
        first = np.zeros(n_users, dtype=np.intp)
    else:
        init = np.asarray(init, dtype=float)
        first = np.searchsorted(levels, instance.snap_to_levels(init) - LEVEL_ATOL_MW)
    rng = np.random.default_rng(seed)
    start_idx = [first, np.full(n_users, n_levels - 1, dtype=np.intp)]
    start_idx += list(rng.integers(0, n_levels, size=(max(starts - 2, 0), n_users)))
    ends = np.stack([_ascend(instance, s, max_sweeps, roundoff) for s in start_idx[:starts]])
    u, v = instance.objective(levels[ends])
    return levels[ends[best_index(u, v)]]


def wmmse(instance: ProblemInstance, iters: int = 200, tol: float = 1e-6) -> np.ndarray:
    levels = instance.levels_mw
    gains, assoc = instance.gains, instance.assoc
    c = instance.bandwidth_hz / math.log(2.0)
    onehot = np.zeros_like(gains)
    onehot[np.arange(instance.n_users), assoc] = 1.0
    g_serv = serving_gain(gains, assoc)
    sqrt_gii = np.sqrt(g_serv)
    v_min, v_max = math.sqrt(levels[0]), math.sqrt(levels[-1])
    v = np.full(instance.n_users, v_max)
    for _ in range(iters):
        power = v**2
        interference = interference_mw(gains, assoc, power, instance.reuse)
        s = power * g_serv / (instance.noise_mw + interference)
        alpha = c / (1.0 + rate_bps(s, instance.bandwidth_hz))
        u = sqrt_gii * v / (power * g_serv + interference + instance.noise_mw)
        aw = alpha * (1.0 + s)
        numerator = aw * u * sqrt_gii
        weight = aw * u**2
        per_bs = weight @ onehot
        denominator = gains @ per_bs
        if instance.reuse == "orthogonal_in_cell":
            denominator = denominator - g_serv * per_bs[assoc] + weight * g_serv
        denominator = denominator + instance.price
        with np.errstate(invalid="ignore", divide="ignore"):
            v_new = np.where(denominator > 0, numerator / denominator, v_min)
        v_new = np.clip(v_new, v_min, v_max)
        step = float(np.max(np.abs(v_new - v)))
        v = v_new
        if step <= tol * max(v_max, 1e-300):
            break
    return snap_keeping_on(instance, v**2)
