"""The per-user (multi-agent, parameter-shared) power-allocation MDP, as pure functions.

One policy acts for every user: each user observes local features of the instance and of
the current powers (:func:`observe_users`, one row per user, any user count) and sets its
own power with a 1-D action. The joint MDP (:mod:`agents.mdp`) stays as the paper-faithful
ablation; this is what scales (see ``ARCHITECTURE.md``, "MDP").

- **Action** ``a`` in ``[-1, 1]``: a *target level on a log scale* from the lowest non-zero
  level ``p_lo`` to the highest ``p_hi``: with ``x`` the position of ``a`` in
  ``[a_off, 1]`` scaled to ``[0, 1]``, ``p = p_lo (p_hi / p_lo) ** x``, snapped to a level;
  below ``a_off = -1 + 2 off_fraction`` (the bottom 5% of the interval by default) the user
  switches off (0 mW, where 0 is a level). There is no 0 mW cliff (half of the interval no
  longer rounds to "off"), yet "off" stays reachable (it is the best response of a user
  that hurts others more than it gains), and a step of the action is a constant ratio of
  power, as the utility's log-rate sees it.
- **Reward** of user ``i``: its difference utility ``D_i = U(p) - U(p with p_i = 0)``
  (:func:`twin.radio.difference_utility`) minus ``violation_penalty`` times the normalized
  constraint violation it adds. Its gradient in ``p_i`` is ``dU/dp_i``, so one user's choice
  is no longer buried in the noise of everyone else's, as with a shared ``U / n``.
- **Episode**: one instance from the scenario's initial powers (zeros), ``horizon`` steps;
  the last power vector is the design. At each step each user moves with probability
  ``move_prob`` (it knows whether it does: the ``moves`` feature) and the others hold their
  power: users that all answer the same state at once over-react together and oscillate
  (period 2, measured), as simultaneous best responses do; asynchronous moves damp it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from twin.radio import (
    ProblemInstance,
    difference_utility,
    priced_best_response,
    user_radio_state,
)

OBS_LIMIT = 10.0  # features are clipped to [-OBS_LIMIT, OBS_LIMIT]
DB_SCALE = 20.0  # dB features are divided by this
LOG_SCALE = 3.0  # natural-log ratios are divided by this
USER_FEATURES = (
    "snr_full_power_db",  # g[i, b(i)] p_max / noise
    "power_position",  # the action whose target is the current power (-1 when off)
    "sinr_db",  # current SINR
    "interference_db",  # 1 + I_i / noise, current
    "leakage_db",  # gain towards the other BSs relative to the serving one
    "benefit_over_cost",  # ln(own benefit / (price + interference price)): > 0: raise power
    "interference_price",  # ln(1 + interference price / price)
    "best_response_position",  # the action whose target is the priced best response
    "price_full_power",  # price x p_max, nats
    "progress",  # step / horizon
    "moves",  # 1 if the user's action is applied this step, 0 if it holds its power
)


@dataclass(frozen=True)
class UserMDPConfig:
    """Shape and scale of the per-user MDP; stored with datasets and agents."""

    horizon: int = 8
    violation_penalty: float = 10.0  # reward lost per unit of normalized violation added
    counterfactual: str = "off"  # D_i against p_i = 0 ("off") or the lowest level ("lowest")
    off_fraction: float = 0.05  # share of the action interval that switches a user off
    move_prob: float = 0.5  # chance that a user's action is applied at a step

    def __post_init__(self) -> None:
        if (self.horizon < 1 or self.violation_penalty < 0 or not 0 <= self.off_fraction < 1
                or self.counterfactual not in ("off", "lowest")
                or not 0 < self.move_prob <= 1):  # fmt: skip
            raise ValueError(f"invalid per-user MDP config {self}")

    @property
    def off_below(self) -> float:
        """Actions below this switch the user off."""
        return -1.0 + 2.0 * self.off_fraction

    @property
    def obs_dim(self) -> int:
        return len(USER_FEATURES)

    def to_dict(self) -> dict:
        return {"formulation": "per-user", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> UserMDPConfig:
        return cls(**{k: v for k, v in d.items() if k != "formulation"})


def _db(x: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, 1e-30))


def log_range(instance: ProblemInstance) -> tuple[float, float]:
    """``(p_lo, p_hi)``: the lowest non-zero and the highest level, mW."""
    levels = instance.levels_mw
    positive = levels[levels > 0]
    if positive.size == 0:
        return 0.0, 0.0
    return float(positive[0]), float(positive[-1])


def _can_switch_off(instance: ProblemInstance, config: UserMDPConfig) -> bool:
    return config.off_fraction > 0 and instance.levels_mw[0] == 0.0


def target_power(
    instance: ProblemInstance, action: np.ndarray, config: UserMDPConfig
) -> np.ndarray:
    """Each user's target level for actions ``(..., U)`` in ``[-1, 1]`` (log scale, snapped)."""
    p_lo, p_hi = log_range(instance)
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    off = _can_switch_off(instance, config)
    a0 = config.off_below if off else -1.0
    x = np.clip((a - a0) / (1.0 - a0), 0.0, 1.0)
    target = p_lo * (p_hi / p_lo) ** x if p_hi > p_lo else np.full(a.shape, p_hi)
    if off:
        target = np.where(a < a0, 0.0, target)
    return instance.snap_to_levels(target)


def action_for(
    instance: ProblemInstance, power_mw: np.ndarray, config: UserMDPConfig
) -> np.ndarray:
    """The action whose target is ``power_mw`` (the middle of the "off" band for 0 mW)."""
    p_lo, p_hi = log_range(instance)
    p = np.asarray(power_mw, dtype=float)
    off = _can_switch_off(instance, config)
    a0 = config.off_below if off else -1.0
    if p_hi > p_lo:
        x = np.log(np.clip(p, p_lo, p_hi) / p_lo) / np.log(p_hi / p_lo)
    else:
        x = np.zeros(p.shape)
    a = a0 + x * (1.0 - a0)
    if off:
        a = np.where(p <= 0.0, (-1.0 + a0) / 2.0, a)
    return np.clip(a, -1.0, 1.0).astype(np.float32)


def draw_moves(rng: np.random.Generator, n_users: int, config: UserMDPConfig) -> np.ndarray:
    """Which users' actions the next step applies (each with probability ``move_prob``)."""
    if config.move_prob >= 1:
        return np.ones(n_users, bool)
    return rng.random(n_users) < config.move_prob


def apply_actions(
    instance: ProblemInstance,
    power_mw: np.ndarray,
    action: np.ndarray,
    moves: np.ndarray,
    config: UserMDPConfig,
) -> np.ndarray:
    """The next power vector: movers go to their target, the others hold."""
    return np.where(moves, target_power(instance, action, config), power_mw)


def observe_users(
    instance: ProblemInstance,
    power_mw: np.ndarray,
    step: int,
    config: UserMDPConfig,
    moves: np.ndarray | None = None,
) -> np.ndarray:
    """One row of :data:`USER_FEATURES` per user, ``(U, obs_dim)`` float32."""
    p = np.asarray(power_mw, dtype=float)
    g, assoc, noise = instance.gains, instance.assoc, instance.noise_mw
    p_max = instance.max_power_mw
    state = user_radio_state(g, assoc, p, noise, instance.bandwidth_hz, instance.reuse)
    g_serv = g[np.arange(instance.n_users), assoc]
    # A floor for the cost, so that a zero price still gives finite ratios.
    cost_floor = max(instance.price, 1e-6 / max(p_max, 1e-12))
    cost = instance.price + state.interference_price + 1e-6 / max(p_max, 1e-12)
    features = np.stack([
        _db(g_serv * p_max / noise) / DB_SCALE,
        action_for(instance, p, config),
        _db(np.where(p > 0, state.sinr, 1e-3)) / DB_SCALE,
        _db(1.0 + state.interference_mw / noise) / DB_SCALE,
        _db((g.sum(axis=1) - g_serv) / g_serv) / DB_SCALE,
        np.log(np.maximum(state.own_benefit, 1e-30) / cost) / LOG_SCALE,
        np.log1p(state.interference_price / cost_floor) / LOG_SCALE,
        action_for(instance, priced_best_response(
            g, assoc, p, noise, instance.bandwidth_hz, instance.price, instance.levels_mw,
            instance.reuse, state), config),
        np.full(instance.n_users, instance.price * p_max),
        np.full(instance.n_users, step / config.horizon),
        np.ones(instance.n_users) if moves is None else np.asarray(moves, dtype=float),
    ], axis=1)  # fmt: skip
    return np.clip(features, -OBS_LIMIT, OBS_LIMIT).astype(np.float32)


def user_rewards(
    instance: ProblemInstance, power_mw: np.ndarray, config: UserMDPConfig
) -> tuple[np.ndarray, float, float]:
    """``(rewards (U,), utility, violation)``: each user's difference reward after a step."""
    p = np.asarray(power_mw, dtype=float)
    du, dv = difference_utility(
        instance.gains, instance.assoc, p, instance.noise_mw, instance.bandwidth_hz,
        instance.price, instance.constraints, instance.reuse,
        default_mw=0.0 if config.counterfactual == "off" else log_range(instance)[0],
    )  # fmt: skip
    utility, violation = instance.objective(p)
    return du - config.violation_penalty * dv, float(utility), float(violation)


def rollout_users(
    predict: Callable[[np.ndarray], np.ndarray],
    instance: ProblemInstance,
    power_mw: np.ndarray,
    config: UserMDPConfig,
    seed: int = 0,
) -> np.ndarray:
    """Run a shared policy (``predict``: ``(U, obs_dim)`` -> ``(U, 1)`` or ``(U,)``) for one
    horizon from ``power_mw``; returns the design (the last power vector). ``seed`` draws
    who moves at each step."""
    rng = np.random.default_rng(seed)
    power = np.asarray(power_mw, dtype=float)
    for t in range(config.horizon):
        moves = draw_moves(rng, instance.n_users, config)
        obs = observe_users(instance, power, t, config, moves)
        action = np.asarray(predict(obs)).reshape(-1)
        power = apply_actions(instance, power, action, moves, config)
    return power
