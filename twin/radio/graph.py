"""Per-user radio quantities and the sparse interference graph: what learned models see.

What decides a user's power is what one more mW buys it and what it costs the others.
Both are derivatives of the paper's utility (:mod:`twin.radio.uplink`, the one place that
computes it), given here in closed form and vectorized over users and base stations:

- ``own_benefit[i] = d ln(1 + R_i) / d p_i`` (nats per mW of user ``i``'s own power);
- ``interference_price[i] = - sum_{k != i} d ln(1 + R_k) / d p_i`` (nats the *other* users
  lose per mW of user ``i``): with ``w_k = d(-ln(1 + R_k)) / dI_k`` the nats user ``k`` loses
  per mW of interference at its serving BS, ``price_i = sum_{k hurt by i} w_k g[i, b(k)]``.
  Summing ``w`` per BS first (``W_j = sum_{b(k) = j} w_k``) makes it
  ``price_i = sum_j g[i, j] W_j`` minus user ``i``'s own cell term: ``O(U B)``, not ``O(U^2)``.

``dU/dp_i = own_benefit_i - interference_price_i - price``: a design is stationary where
the two sides balance. :func:`difference_utility` is the reward a user earns in the per-user
formulation, ``U(p) - U(p with p_i = 0)``.

:func:`interference_graph` is the instance as a sparse, permutation-equivariant graph for
models of any user count (contract in :class:`InterferenceGraph`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.radio.uplink import (
    REUSE_MODES,
    Constraints,
    Reuse,
    _interference_mw,
    _serving_onehot,
    objective,
    rate_bps,
    serving_gain,
)

LN2 = float(np.log(2.0))
DB_SCALE = 20.0  # graph features in dB are divided by this: typical values land in [-3, 3]
FEATURE_LIMIT = 10.0  # and every graph feature is clipped to [-FEATURE_LIMIT, FEATURE_LIMIT]


def _check_reuse(reuse: str) -> None:
    if reuse not in REUSE_MODES:
        raise ValueError(f"reuse must be one of {REUSE_MODES}, got {reuse!r}")


@dataclass(frozen=True)
class UserRadioState:
    """Per-user radio quantities at one power vector; every field has shape ``(..., U)``."""

    signal_mw: np.ndarray  # p_i g[i, b(i)], received at the serving BS
    interference_mw: np.ndarray  # I_i, from the users that interfere with i
    sinr: np.ndarray  # linear
    rate_bps: np.ndarray
    own_benefit: np.ndarray  # d ln(1 + R_i) / d p_i, nats per mW
    interference_price: np.ndarray  # nats the other users lose per mW of user i

    def utility_gradient(self, price: float) -> np.ndarray:
        """``dU/dp_i`` of the paper's utility (nats per mW)."""
        return self.own_benefit - self.interference_price - price


def user_radio_state(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    bandwidth_hz: float,
    reuse: Reuse = "shared",
) -> UserRadioState:
    """Signal, interference, SINR, rate, own benefit and interference price per user.

    ``power_mw`` may carry leading batch axes ``(..., U)``. Cost ``O(U B)`` per vector.
    """
    _check_reuse(reuse)
    power_mw = np.asarray(power_mw, dtype=float)
    g_serv = serving_gain(gains, assoc)
    signal = power_mw * g_serv
    interference = _interference_mw(gains, assoc, power_mw, signal.copy(), reuse)
    denominator = noise_mw + interference  # N + I_i, mW
    s = signal / denominator
    r = rate_bps(s, bandwidth_hz)
    # d ln(1 + R)/d SINR = B / (ln 2 (1 + R)(1 + SINR)); the chain rule gives the rest.
    dlog_dsinr = bandwidth_hz / (LN2 * (1.0 + r) * (1.0 + s))
    own_benefit = dlog_dsinr * g_serv / denominator  # dSINR_i/dp_i = g_ii / (N + I_i)
    victim_weight = dlog_dsinr * s / denominator  # -dln(1+R_k)/dI_k: dSINR_k/dI_k = -SINR_k/(N+I_k)
    per_bs = victim_weight @ _serving_onehot(assoc, gains.shape[1])  # (..., B): W_j
    heard = per_bs @ gains.T  # (..., U): sum_j g[i, j] W_j, every victim of every BS
    if reuse == "shared":
        price = heard - victim_weight * g_serv  # user i does not interfere with itself
    else:  # orthogonal_in_cell: the users of i's own cell are not hurt by it
        price = heard - per_bs[..., assoc] * g_serv
    return UserRadioState(
        signal_mw=signal,
        interference_mw=interference,
        sinr=s,
        rate_bps=r,
        own_benefit=own_benefit,
        interference_price=np.maximum(price, 0.0),  # cancellation residue; a price is >= 0
    )


def priced_best_response(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    bandwidth_hz: float,
    price: float,
    levels_mw: np.ndarray,
    reuse: Reuse = "shared",
    state: UserRadioState | None = None,
    with_gain: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Each user's best level against the current state, its harm priced linearly.

    ``argmax_l ln(1 + R_i(l; I_i)) - (price + interference_price_i) l`` over the levels,
    with the interference ``I_i`` it receives and its interference price held at their
    current values (the local step of price-based distributed power control: Huang, Berry
    and Honig, "Distributed interference compensation for wireless networks", 2006).
    ``power_mw`` is ``(U,)`` or a batch ``(..., U)``; ``state``, if given, is
    :func:`user_radio_state` at ``power_mw`` (saves computing it again). ``with_gain``:
    also return how much each user's priced value would rise by moving there.

    The value is concave in the level (a concave increasing function of a concave one,
    minus a linear cost), so the slopes between consecutive levels fall and the best level
    is where they turn negative: bisection, ``O(U log L)`` instead of scoring every level
    (the same level, ties to the lower one).
    """
    if state is None:
        state = user_radio_state(gains, assoc, power_mw, noise_mw, bandwidth_hz, reuse)
    levels = np.asarray(levels_mw, dtype=float)
    per_mw = serving_gain(gains, assoc) / (noise_mw + state.interference_mw)  # SINR per mW
    unit = price + state.interference_price

    def value(p: np.ndarray) -> np.ndarray:
        return np.log1p(rate_bps(per_mw * p, bandwidth_hz)) - unit * p

    lo = np.zeros(per_mw.shape, dtype=np.intp)  # the best level lies in [lo, hi]
    hi = np.full(per_mw.shape, len(levels) - 1, dtype=np.intp)
    while (open_ := lo < hi).any():
        mid = (lo + hi) // 2
        rising = value(levels[mid + open_]) > value(levels[mid])
        lo = np.where(open_ & rising, mid + 1, lo)
        hi = np.where(open_ & ~rising, mid, hi)
    best = levels[lo]
    if not with_gain:
        return best
    return best, value(best) - value(np.asarray(power_mw, dtype=float))


def difference_utility(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    bandwidth_hz: float,
    price: float,
    constraints: Constraints = Constraints(),
    reuse: Reuse = "shared",
    chunk: int = 256,
    default_mw: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(U(p) - U(p with p_i = d), V(p) - V(p with p_i = d))`` for every user ``i``.

    With the default action ``d = default_mw = 0`` this is

    what user ``i`` adds to the utility (and to the normalized constraint violation ``V``):
    the difference reward of the per-user formulation, whose sum over users is not ``U``
    but whose gradient in ``p_i`` is exactly ``dU/dp_i``. Computed literally, by
    :func:`twin.radio.uplink.objective` on the ``U`` vectors ``p`` with one user switched
    off (rows of ``chunk`` at a time): ``O(U^2 B)`` work and ``O(chunk U)`` memory, a
    few hundred microseconds at the 20-200 users agents train on, and exact where a
    first-order estimate from :func:`user_radio_state` would not be (switching a user off is
    not a small step).
    """
    power_mw = np.asarray(power_mw, dtype=float)
    if power_mw.ndim != 1:
        raise ValueError(f"power_mw must be one vector (U,), got shape {power_mw.shape}")
    n = power_mw.shape[0]

    def score(p):
        return objective(gains, assoc, p, noise_mw, bandwidth_hz, price, constraints, reuse)

    u_full, v_full = score(power_mw)
    du, dv = np.empty(n), np.empty(n)
    for start in range(0, n, max(1, chunk)):
        rows = np.arange(start, min(n, start + max(1, chunk)))
        off = np.repeat(power_mw[None, :], len(rows), axis=0)
        off[np.arange(len(rows)), rows] = default_mw
        u_off, v_off = score(off)
        du[rows], dv[rows] = u_full - u_off, v_full - v_off
    return du, dv


@dataclass(frozen=True)
class InterferenceGraph:
    """An instance as a sparse directed graph of users (any count, no padding).

    Contract (issue 13's planner and stage 1's agents read it):

    - nodes are the ``U`` users in the instance's order; ``node_features`` ``(U, 5)`` float32;
    - edge ``e`` runs from interferer ``senders[e]`` to victim ``receivers[e]``: for each victim
      ``i`` (in user order) its ``min(k, available)`` strongest interferers at its serving BS
      ``b(i)``, strongest first ("available": every other user under ``reuse="shared"``, the
      users of other cells under ``"orthogonal_in_cell"``); ``edge_features`` ``(E, 2)``
      float32; ``E <= k U``;
    - what the edges leave out is not lost: ``rest_interference_db`` sums the other
      interferers;
    - every feature is a power-independent ratio in dB divided by :data:`DB_SCALE` (so
      scale-free: multiplying every gain and the noise by one factor changes nothing), or
      the price in nats at full power, clipped to ``[-FEATURE_LIMIT, FEATURE_LIMIT]``;
    - permutation-equivariant: permuting the users permutes the nodes and relabels the
      edges (exactly equal gains, which continuous channels never give, may break either
      way);
    - cost ``O(U B + U k)`` time and memory: one top-``k+1`` selection per BS, not per user.
    """

    node_features: np.ndarray
    senders: np.ndarray
    receivers: np.ndarray
    edge_features: np.ndarray
    k: int

    NODE_FEATURES = (
        "snr_db",  # g[i, b(i)] p_max / noise: the link at full power
        "interference_db",  # 1 + (all interferers of i at full power) / noise
        "rest_interference_db",  # 1 + (interferers that are not edges, at full power) / noise
        "leakage_db",  # g[i, j != b(i)] summed over the other BSs, relative to g[i, b(i)]
        "price_full_power",  # price x p_max, nats
    )
    EDGE_FEATURES = (
        "cross_db",  # g[sender, b(receiver)] / g[receiver, b(receiver)]: interferer vs signal
        "cross_snr_db",  # g[sender, b(receiver)] p_max / noise: interferer vs noise
    )

    @property
    def n_users(self) -> int:
        return int(self.node_features.shape[0])


def _db(x: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, 1e-30))


def _feature(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -FEATURE_LIMIT, FEATURE_LIMIT).astype(np.float32)


def strongest_interferers(
    gains: np.ndarray, assoc: np.ndarray, k: int, reuse: Reuse = "shared"
) -> tuple[np.ndarray, np.ndarray]:
    """``(senders, receivers)``: each user's ``k`` strongest interferers at its serving BS.

    Users of one BS share one ranking of who is loud there, so the selection is one
    top-``k+1`` partition per BS (``O(U B)``), then a per-victim filter that drops the
    victim itself (and, under ``orthogonal_in_cell``, its own cell, masked beforehand).
    """
    _check_reuse(reuse)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    n, n_bs = gains.shape
    if n < 2 or k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    loudness = np.array(gains, dtype=float)
    if reuse == "orthogonal_in_cell":
        loudness[np.arange(n), assoc] = -np.inf  # nobody interferes in its own cell
    m = min(k + 1, n)
    # Top m per BS, then sorted strongest first (stable, so ties break by user index).
    top = np.argpartition(-loudness, m - 1, axis=0)[:m] if m < n else np.tile(
        np.arange(n)[:, None], (1, n_bs)
    )
    top = np.sort(top, axis=0)  # index order first, so the stable sort below breaks ties by it
    order = np.argsort(-loudness[top, np.arange(n_bs)], axis=0, kind="stable")
    top = np.take_along_axis(top, order, axis=0)  # (m, B)
    candidates = top[:, assoc].T  # (U, m): the loudest users at each victim's BS
    valid = (candidates != np.arange(n)[:, None]) & np.isfinite(
        loudness[candidates, assoc[:, None]]
    )
    valid &= np.cumsum(valid, axis=1) <= k
    receivers, slot = np.nonzero(valid)
    return candidates[receivers, slot].astype(np.int64), receivers.astype(np.int64)


def interference_graph(
    gains: np.ndarray,
    assoc: np.ndarray,
    noise_mw: float,
    max_power_mw: float,
    price: float,
    k: int = 8,
    reuse: Reuse = "shared",
) -> InterferenceGraph:
    """The sparse interference graph of an instance (see :class:`InterferenceGraph`)."""
    gains = np.asarray(gains, dtype=float)
    assoc = np.asarray(assoc, dtype=np.intp)
    senders, receivers = strongest_interferers(gains, assoc, k, reuse)
    n = gains.shape[0]
    g_serv = serving_gain(gains, assoc)
    column = gains.sum(axis=0)  # (B,): unit-power gain of everyone at each BS
    if reuse == "shared":
        heard = column[assoc] - g_serv
    else:
        in_cell = g_serv @ _serving_onehot(assoc, gains.shape[1])
        heard = column[assoc] - in_cell[assoc]
    cross = gains[senders, assoc[receivers]]
    on_edges = np.bincount(receivers, weights=cross, minlength=n)
    rest = np.maximum(heard - on_edges, 0.0)
    full = max_power_mw / noise_mw
    nodes = np.stack([
        _db(g_serv * full) / DB_SCALE,
        _db(1.0 + heard * full) / DB_SCALE,
        _db(1.0 + rest * full) / DB_SCALE,
        _db((gains.sum(axis=1) - g_serv) / g_serv) / DB_SCALE,
        np.full(n, price * max_power_mw),
    ], axis=1)  # fmt: skip
    edges = np.stack([
        _db(cross / g_serv[receivers]) / DB_SCALE,
        _db(cross * full) / DB_SCALE,
    ], axis=1).reshape(-1, 2)  # fmt: skip
    return InterferenceGraph(_feature(nodes), senders, receivers, _feature(edges), k)
