"""Discrete coordinate ascent: each user in turn moves to its best level, until no move helps.

Incremental: the power each BS receives is kept current as users move (``O(B)`` per move),
so scoring every level of user ``i`` costs one pass over the users (every user's rate at
each level, ``O(L U)``), not a full objective (``O(L U B)`` with a fresh matrix product).
Without constraints, most levels need not be scored at all: what the other users get is a
convex function of ``p_i``, so between two scored levels it lies below their chord, and a
level whose own term plus that chord is below the best is skipped (branch and bound over
the levels; exact: the bound keeps a margin far above round-off).

Anytime: with ``time_budget_s`` the search stops when the budget is spent and returns the
best design reached so far (every move improves, so that is the current one or an earlier
start's end).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from twin.core.errors import AignError
from twin.radio.instance import LEVEL_ATOL_MW, ProblemInstance
from twin.radio.uplink import CONSTRAINT_RTOL, serving_gain
from twin.solvers.ranking import best_index, is_better

# Below this many (level, user) cells per move, every level is scored in one batch: numpy's
# per-call overhead costs more than the cells the bound would skip.
FULL_SCORING_MAX_CELLS = 5000
# A level is skipped only when its upper bound is below the best utility by more than this
# (relative) margin: far above the round-off of a sum over users (~1e-16 x U), far below
# any real difference between two levels.
BOUND_MARGIN_RTOL = 1e-10
# Levels scored per round of the bound (the most promising first).
BOUND_BATCH = 4
# Up to this many users the cross gains g[i, b(k)] are kept as one (U, U) matrix (32 MB at
# 2000 users); above, each move gathers its row (O(U)).
CROSS_MAX_USERS = 2000

Clock = Callable[[], float]
ALL_LEVELS = slice(None)


class _Budget:
    """Whether the time budget is spent; no budget never is."""

    def __init__(self, seconds: float | None, clock: Clock) -> None:
        self.clock = clock
        self.end = None if seconds is None else clock() + seconds

    def spent(self) -> bool:
        return self.end is not None and self.clock() >= self.end


class _Network:
    """What every start shares: the instance's constants, arranged for one move's scoring."""

    def __init__(self, instance: ProblemInstance) -> None:
        self.inst = instance
        self.levels = instance.levels_mw
        self.levels_up = np.arange(len(self.levels))
        self.gains, self.assoc = instance.gains, instance.assoc
        self.g_serv = serving_gain(self.gains, self.assoc)
        self.rate_per_nat = instance.bandwidth_hz / math.log(2.0)  # R = this x ln(1 + SINR)
        self.price_levels = instance.price * self.levels
        self.signal_levels = np.multiply.outer(self.g_serv, self.levels)  # (U, L): g_ii x level
        self.orthogonal = instance.reuse == "orthogonal_in_cell"
        self.constrained = bool(instance.constraints.active())
        n = instance.n_users
        self.full = self.constrained or len(self.levels) * n <= FULL_SCORING_MAX_CELLS
        self.cross = None
        if n <= CROSS_MAX_USERS:
            self.cross = self.gains[:, self.assoc]  # cross[i, k] = g[i, b(k)]
            self.cross[np.arange(n), np.arange(n)] = 0.0
            if self.orthogonal:
                self.cross[self.assoc[:, None] == self.assoc[None, :]] = 0.0

    def leak(self, i: int) -> np.ndarray:
        """``g[i, b(k)]`` for every user ``k`` whose BS hears ``i`` as interference, else 0."""
        if self.cross is not None:
            return self.cross[i]
        row = self.gains[i, self.assoc]
        row[i] = 0.0
        if self.orthogonal:
            row[self.assoc == self.assoc[i]] = 0.0
        return row


class _Climb:
    """One start of coordinate ascent, with the interference kept current.

    Invariants (after :meth:`refresh`, and after every move): ``base[k]`` = noise +
    interference at user ``k``'s BS; ``own[k] = g[k, b(k)] p_k``; ``received[j] = sum_k
    g[k, j] p_k``; ``served[j]`` = what BS ``j`` receives from its own users; ``total_mw``.
    """

    def __init__(self, network: _Network, idx: np.ndarray) -> None:
        self.net = network
        self.idx = np.array(idx, dtype=np.intp)
        self.power = network.levels[self.idx]
        self.refresh()

    def refresh(self) -> None:
        """Recompute every received power from scratch (so round-off cannot drift)."""
        net = self.net
        self.received = self.power @ net.gains
        self.own = self.power * net.g_serv
        self.served = np.bincount(net.assoc, self.own, minlength=net.inst.n_bs)
        at_serving = self.received[net.assoc]
        interference = at_serving - (self.served[net.assoc] if net.orthogonal else self.own)
        self.base = np.maximum(interference, 0.0) + net.inst.noise_mw
        self.total_mw = float(self.power.sum())

    def sweep(self, budget: _Budget) -> tuple[bool, bool]:
        """One pass over the users in order: ``(changed, finished)``; ``finished`` is False
        when the budget ran out part-way."""
        self.refresh()
        changed = False
        for i in range(self.net.inst.n_users):
            if budget.spent():
                return changed, False
            changed |= self.step(i)
        return changed, True

    # ------------------------------------------------------------------ one user
    def step(self, i: int) -> bool:
        """Move user ``i`` to its best level if that strictly beats its current one."""
        net, now = self.net, int(self.idx[i])
        leak = net.leak(i)
        utility, violation = (self._score(i, leak, ALL_LEVELS) if net.full
                              else (self._bounded(i, leak, now), None))  # fmt: skip
        if violation is None:  # no constraints: utility alone decides
            best = int(np.argmax(utility))
            better = best != now and is_better(utility[best], 0.0, utility[now], 0.0)
        else:
            best = best_index(utility, violation)
            better = best != now and is_better(utility[best], violation[best], utility[now],
                                               violation[now])  # fmt: skip
        if not better:
            return False
        self._move(i, best, leak)
        return True

    def _score(
        self, i: int, leak: np.ndarray, which: np.ndarray | slice
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Utility and total violation (None without constraints) of the design with user
        ``i`` at each level in ``which``: every user's rate, from the current interference
        plus i's change."""
        net = self.net
        level = net.levels[which]
        x = (level - self.power[i])[:, None] * leak
        x += self.base  # noise + interference at each user's BS, per level of user i
        sinr = np.divide(self.own, x, out=x)
        sinr[:, i] = net.signal_levels[i, which] / self.base[i]
        # ln(1 + x) as log(1 + x), not log1p: numpy's log is vectorized and twice as fast,
        # and 1 + x is what the objective itself takes the log of (log2(1 + SINR)).
        sinr += 1.0
        rates = np.log(sinr, out=sinr)
        rates *= net.rate_per_nat
        rest_mw = self.total_mw - self.power[i]
        violation = self._violation(i, rates, level, rest_mw) if net.constrained else None
        rates += 1.0
        utility = np.log(rates, out=rates).sum(axis=1)
        utility -= net.price_levels[which] + net.inst.price * rest_mw
        return utility, violation

    def _violation(
        self, i: int, rates: np.ndarray, level: np.ndarray, rest_mw: float
    ) -> np.ndarray:
        """Total normalized violation per level, as :func:`twin.radio.uplink.objective` sums
        it (minimum rate, then total power, then interference cap)."""
        c, net = self.net.inst.constraints, self.net
        total = np.zeros(len(level))
        if c.min_rate_bps is not None:
            short = np.maximum(c.min_rate_bps - rates, 0.0) / max(c.min_rate_bps, 1e-300)
            total = total + np.where(short > CONSTRAINT_RTOL, short, 0.0).sum(axis=1)
        if c.max_total_power_mw is not None:
            limit = c.max_total_power_mw
            excess = (rest_mw + level - limit) / max(limit, 1e-300)
            total = total + np.where(excess > CONSTRAINT_RTOL, excess, 0.0)
        if c.max_interference_mw is not None:
            into = net.gains[i].copy()
            into[net.assoc[i]] = 0.0  # i's power at its own BS is served, not interference
            at_bs = np.maximum(self.received - self.served, 0.0)
            at_bs = at_bs + np.multiply.outer(level - self.power[i], into)
            excess = np.maximum(at_bs - c.max_interference_mw, 0.0) / c.max_interference_mw
            total = total + np.where(excess > CONSTRAINT_RTOL, excess, 0.0).sum(axis=1)
        return total

    def _bounded(self, i: int, leak: np.ndarray, now: int) -> np.ndarray:
        """Utilities of user ``i``'s levels, ``-inf`` where a bound proves that a level cannot
        be (within the margin) the best: the argmax, ties to the lower level, is exact.

        ``h(p) = own(p) + O(p)`` for user ``i`` at power ``p``: ``own`` is i's own term minus
        the price of its power (computed for every level), ``O`` everyone else's terms. Each
        other user's ``ln(1 + c ln(1 + s / (y + x)))`` is convex in the interference ``x``
        it receives (the second derivative has the sign of ``(2 + t)(1 + c ln(1 + t)) - c t
        > 0``, ``t`` its SINR), and ``x`` is affine in ``p``, so ``O`` is convex in ``p``:
        between two scored levels it lies below their chord. Scoring the lowest and the
        highest level first, every level gets the bound ``own(p) + chord(p)``."""
        net = self.net
        levels, top = net.levels, len(net.levels) - 1
        own_term = np.log1p(net.rate_per_nat * np.log1p(net.signal_levels[i] / self.base[i]))
        own_term -= net.price_levels
        utility = np.full(len(levels), -np.inf)
        others = np.zeros(len(levels))
        scored = np.zeros(len(levels), dtype=bool)
        batch = np.array(sorted({0, now, int(np.argmax(own_term)), top}))
        while batch.size:
            utility[batch] = self._score(i, leak, batch)[0]
            others[batch] = utility[batch] - own_term[batch]
            scored[batch] = True
            best = float(np.max(utility))
            lo = np.maximum.accumulate(np.where(scored, net.levels_up, 0))
            hi = np.minimum.accumulate(np.where(scored, net.levels_up, top)[::-1])[::-1]
            span = levels[hi] - levels[lo]
            share = np.divide(levels - levels[lo], span, out=np.zeros_like(span), where=span > 0)
            bound = own_term + others[lo] + share * (others[hi] - others[lo])
            bound[scored] = -np.inf
            open_ = np.flatnonzero(bound >= best - BOUND_MARGIN_RTOL * max(1.0, abs(best)))
            batch = open_[np.argsort(-bound[open_], kind="stable")[:BOUND_BATCH]]
        return utility

    def _move(self, i: int, level_index: int, leak: np.ndarray) -> None:
        net = self.net
        new = net.levels[level_index]
        change = new - self.power[i]
        self.base += change * leak
        self.received += change * net.gains[i]
        self.served[net.assoc[i]] += change * net.g_serv[i]
        self.own[i] = new * net.g_serv[i]
        self.total_mw += change
        self.power[i] = new
        self.idx[i] = level_index


def _climb(
    network: _Network, idx: np.ndarray, max_sweeps: int, budget: _Budget
) -> tuple[np.ndarray, bool]:
    """Coordinate ascent from level indices ``idx`` until a sweep changes nothing (or
    ``max_sweeps``, or the budget): the end point, and whether the budget left it whole."""
    climb = _Climb(network, idx)
    for _ in range(max_sweeps):
        changed, finished = climb.sweep(budget)
        if not finished:
            return climb.idx, False
        if not changed:
            break
    return climb.idx, True


def coordinate_ascent(
    instance: ProblemInstance,
    starts: int = 4,
    seed: int = 0,
    init: np.ndarray | None = None,
    max_sweeps: int = 100,
    time_budget_s: float | None = None,
    *,
    clock: Clock = time.perf_counter,
) -> np.ndarray:
    """Multi-start discrete coordinate ascent: each user in turn moves to its best level.

    Starts, in order: ``init`` (snapped to the nearest levels: it is only a starting point) or
    the lowest level, the highest level, then random level vectors from ``seed``. Each start
    climbs until a full sweep changes nothing (or ``max_sweeps``); the best end point wins,
    ties to the earlier start. Every end point is a local optimum: no single user can improve.

    ``time_budget_s``: stop when this much time (read from ``clock``, checked before every
    user's move) has passed and return the best of what the starts reached so far; 0 returns
    the first start point. ``max_sweeps=1, starts=1`` is one sweep from ``init``.
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
    if time_budget_s is not None and not time_budget_s >= 0:
        raise AignError(f"coordinate ascent: time_budget_s must be >= 0, got {time_budget_s}")
    rng = np.random.default_rng(seed)
    start_idx = [first, np.full(n_users, n_levels - 1, dtype=np.intp)]
    start_idx += list(rng.integers(0, n_levels, size=(max(starts - 2, 0), n_users)))
    budget = _Budget(time_budget_s, clock)
    network = _Network(instance)
    ends = []
    for start in start_idx[:starts]:
        end, finished = _climb(network, start, max_sweeps, budget)
        ends.append(end)
        if not finished:
            break
    ends_arr = np.stack(ends)
    u, v = instance.objective(levels[ends_arr])
    return levels[ends_arr[best_index(u, v)]]
