"""Best-response dynamics: every user answers the others, a random half at a time.

The classical distributed power control the per-user agents start from (their anchor,
:mod:`agents.peruser`): at each of ``steps`` rounds each user moves with probability
``move_prob`` to its best response against the current powers, the others hold
(asynchronous moves damp the period-2 oscillation of simultaneous best responses).
:func:`best_response_dynamics` answers with :func:`twin.radio.checked_best_response` (the
best of a few levels, each scored exactly), :func:`priced_response_dynamics` with
:func:`twin.radio.priced_best_response` (the interference priced linearly: Huang, Berry
and Honig 2006). The same seed draws the
same movers as an agent's rollout, so an agent whose policy always answers ``a = 0`` ends
on this design: the benchmarks report it as the floor the learned correction starts from.
"""

from __future__ import annotations

import numpy as np

from twin.core.errors import AignError
from twin.radio.deviation import checked_best_response
from twin.radio.graph import priced_best_response
from twin.radio.instance import ProblemInstance


def best_response_dynamics(
    instance: ProblemInstance,
    steps: int = 16,
    move_prob: float = 0.5,
    seed: int = 0,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """The powers after ``steps`` rounds of asynchronous checked best responses from ``init``
    (snapped to the levels; default 0 mW)."""
    return _dynamics(instance, checked_best_response, steps, move_prob, seed, init)


def priced_response_dynamics(
    instance: ProblemInstance,
    steps: int = 16,
    move_prob: float = 0.5,
    seed: int = 0,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """The same with the interference priced linearly (the agents' ``priced`` anchor)."""
    return _dynamics(instance, priced_best_response, steps, move_prob, seed, init)


def _dynamics(instance: ProblemInstance, answer, steps: int, move_prob: float, seed: int,
              init: np.ndarray | None) -> np.ndarray:  # fmt: skip
    rng = np.random.default_rng(seed)
    if init is None:
        p = np.zeros(instance.n_users)
    else:
        p = np.asarray(init, dtype=float)
        if p.shape != (instance.n_users,) or not np.all(np.isfinite(p)):
            raise AignError(f"best responses: init must be {instance.n_users} finite powers in "
                            f"mW (one per user), got shape {p.shape}")  # fmt: skip
        p = instance.snap_to_levels(p)
    for _ in range(steps):
        moves = draw_movers(rng, instance.n_users, move_prob)
        best = answer(instance.gains, instance.assoc, p, instance.noise_mw,
                      instance.bandwidth_hz, instance.price, instance.levels_mw,
                      instance.reuse)  # fmt: skip
        p = np.where(moves, best, p)
    return p


def draw_movers(rng: np.random.Generator, n_users: int, move_prob: float) -> np.ndarray:
    """Which users move at a step: each with probability ``move_prob`` (all when it is 1)."""
    if move_prob >= 1:
        return np.ones(n_users, bool)
    return rng.random(n_users) < move_prob
