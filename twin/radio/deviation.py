"""What one user's move is worth to the whole network, exactly, for every user at once.

``deviation_value(..., target)[i] = U(p with p_i = target_i) - U(p)``: the change of the
paper's utility if user ``i`` alone moved to its target and the others held. The
interference price (:mod:`twin.radio.graph`) is its first-order estimate, and misses
exactly the moves that matter most: switching a user on or off is not a small step, and a
victim's ``ln(1 + R)`` is far from linear in the interference when one interferer
dominates it (two users near one BS: one of them should yield).

Computed literally this is ``U`` objectives of ``O(U B)`` each. Here a move changes the
interference at every BS ``j`` by ``g[i, j] (t_i - p_i)``, the same for every victim served
by ``j``, so the victims of each cell are scored together: the linear estimate for every
cell (the interference price, ``O(U B)``), replaced by the exact change in the
``exact_cells`` cells the move disturbs most relative to their victims' noise plus
interference (``O(exact_cells U^2 / B)`` with balanced cells). With ``exact_cells >= B``
the value is exact (tested against the literal objective); the cells left linear are those
where the move is a small fraction of every victim's interference, where the first-order
estimate is accurate.
"""

from __future__ import annotations

import numpy as np

from twin.radio.graph import LN2, UserRadioState, priced_best_response, user_radio_state
from twin.radio.instance import snap_to_levels
from twin.radio.uplink import Reuse, rate_bps, serving_gain


def deviation_value(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    target_mw: np.ndarray,
    noise_mw: float,
    bandwidth_hz: float,
    price: float,
    reuse: Reuse = "shared",
    exact_cells: int = 4,
    state: UserRadioState | None = None,
) -> np.ndarray:
    """``U(p with p_i = target_i) - U(p)`` for every user ``i`` (``(U,)``, nats; no constraints).

    ``state``, if given, is :func:`user_radio_state` at ``power_mw``."""
    p = np.asarray(power_mw, dtype=float)
    t = np.broadcast_to(np.asarray(target_mw, dtype=float), p.shape)
    if p.ndim != 1:
        raise ValueError(f"power_mw must be one vector (U,), got shape {p.shape}")
    if state is None:
        state = user_radio_state(gains, assoc, p, noise_mw, bandwidth_hz, reuse)
    n, n_bs = gains.shape
    g_serv = serving_gain(gains, assoc)
    denominator = noise_mw + state.interference_mw
    base = np.log1p(state.rate_bps)
    delta = t - p
    own = np.log1p(rate_bps(g_serv * t / denominator, bandwidth_hz)) - base
    value = own - price * delta - state.interference_price * delta
    if n < 2 or not np.any(delta):
        return value
    # -d ln(1 + R_k) / d I_k: what the interference price sums (see user_radio_state)
    s = state.sinr
    weight = bandwidth_hz / (LN2 * (1.0 + state.rate_bps) * (1.0 + s)) * s / denominator
    cells = [np.flatnonzero(assoc == j) for j in range(n_bs)]
    floor = np.array([denominator[c].min() if c.size else np.inf for c in cells])
    impact = np.abs(gains * delta[:, None]) / floor[None, :]  # (U, B)
    if reuse == "orthogonal_in_cell":
        impact[np.arange(n), assoc] = 0.0  # a user's own cell does not hear it
    m = min(max(int(exact_cells), 0), n_bs)
    if m == 0:
        return value
    chosen = np.zeros((n, n_bs), dtype=bool)
    if m < n_bs:
        top = np.argpartition(-impact, m - 1, axis=1)[:, :m]
        chosen[np.arange(n)[:, None], top] = True
    else:
        chosen[:] = True
    chosen &= (impact > 0) & (delta[:, None] != 0)
    for j, victims in enumerate(cells):
        movers = np.flatnonzero(chosen[:, j])
        if victims.size == 0 or movers.size == 0:
            continue
        x = gains[movers, j][:, None] * delta[movers][:, None]  # (w, 1): change at BS j
        interference = np.maximum(state.interference_mw[victims][None, :] + x, 0.0)
        exact = np.log1p(rate_bps(state.signal_mw[victims] / (noise_mw + interference),
                                  bandwidth_hz)) - base[victims]  # fmt: skip
        linear = -weight[victims][None, :] * x
        correction = exact - linear
        correction[movers[:, None] == victims[None, :]] = 0.0  # not its own victim
        value[movers] += correction.sum(axis=1)
    return value


def checked_best_response(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    bandwidth_hz: float,
    price: float,
    levels_mw: np.ndarray,
    reuse: Reuse = "shared",
    step: float = 0.1,
    exact_cells: int = 4,
    state: UserRadioState | None = None,
) -> np.ndarray:
    """Each user's best of a few levels, each scored exactly by :func:`deviation_value`
    (``state``, if given, is :func:`user_radio_state` at ``power_mw``).

    The candidates: hold, off (where 0 mW is a level), the priced best response
    (:func:`twin.radio.priced_best_response`) and the levels ``step`` of the log range
    (lowest non-zero level to the highest) above and below it. The linear price gets the
    direction right and the size wrong where a victim's ``ln(1 + R)`` is far from linear:
    it keeps on a user whose yielding is worth a whole victim (two users at one BS), and
    stops others short of their best level; checking a handful of candidates exactly fixes
    both at ``O(exact_cells U^2 / B)`` per candidate instead of a coordinate sweep's
    ``O(L U^2 B)``."""
    p = np.asarray(power_mw, dtype=float)
    levels = np.asarray(levels_mw, dtype=float)
    if state is None:
        state = user_radio_state(gains, assoc, p, noise_mw, bandwidth_hz, reuse)
    best = priced_best_response(gains, assoc, p, noise_mw, bandwidth_hz, price, levels, reuse,
                                state)  # fmt: skip
    candidates = [p, best]
    if levels[0] == 0.0:
        candidates.append(np.zeros_like(p))
    positive = levels[levels > 0]
    if step > 0 and positive.size > 1:
        lo, hi = positive[0], positive[-1]
        x = np.log(np.clip(best, lo, hi) / lo) / np.log(hi / lo)
        for sign in (-1.0, 1.0):
            shifted = lo * (hi / lo) ** np.clip(x + sign * step, 0.0, 1.0)
            candidates.append(snap_to_levels(levels, shifted))
    stacked = np.stack(candidates)
    values = np.stack([np.zeros_like(p)] + [
        deviation_value(gains, assoc, p, c, noise_mw, bandwidth_hz, price, reuse,
                        exact_cells, state) for c in candidates[1:]])  # fmt: skip
    return stacked[np.argmax(values, axis=0), np.arange(p.size)]
