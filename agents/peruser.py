"""The per-user (multi-agent, parameter-shared) power-allocation MDP, as pure functions.

One policy acts for every user: each user observes local features of the instance and of
the current powers (:func:`observe_users`, one row per user, any user count) and sets its
own power with a 1-D action. The joint MDP (:mod:`agents.mdp`) stays as the paper-faithful
ablation; this is what scales (see ``ARCHITECTURE.md``, "MDP").

- **Action** ``a`` in ``[-1, 1]``, ``relative`` (the default): a move on the log scale from
  an *anchor* (see below): with ``x`` the position of a power on the log scale from the
  lowest non-zero level ``p_lo`` (0) to the highest ``p_hi`` (1), the target is
  ``x_anchor + relative_span a``, snapped to a level, "off" (0 mW) below ``-1/4`` (an
  anchor of "off" sits at ``-1/2``). So ``a = 0`` is the anchor, a step of the action is a
  constant ratio of power (as the utility's log-rate sees it), "off" stays reachable
  without a cliff next to the lowest level, and the policy learns the correction the
  anchor needs. The ``anchor``: ``checked`` (the default), the best of hold, off, the
  priced best response and two levels beside it, each scored exactly by what the user's
  move does to the whole utility (:func:`twin.radio.checked_best_response`); ``priced``,
  the priced best response alone (:func:`twin.radio.priced_best_response`, the local step
  of price-based power control; its linear price stalls at poor equilibria on some
  instances: a user that should yield to a neighbour at its BS stays on, others stop
  short); ``priced-on``, that raised to the lowest level, so that only the policy switches
  a user off (benchmarks/RESULTS.md, "Stage 1 per-user"). ``level`` (the earlier
  parametrisation, still read from older agents): ``a`` is an absolute target level on that
  log scale, the bottom ``off_fraction`` of the interval switching off.
- **Reward** of user ``i``: a difference utility ``U(p) - U(p with p_i = d)`` minus
  ``violation_penalty`` times the normalized constraint violation it adds, with the
  counterfactual ``d`` the user's power before the step (``hold``, the default: what its own
  move gained, 0 for a user that held), 0 (``off``: :func:`twin.radio.difference_utility`)
  or ``p_lo``. Its gradient in ``p_i`` is ``dU/dp_i`` whatever ``d``, so one user's choice is
  no longer buried in the noise of everyone else's, as with a shared ``U / n``; ``hold``
  leaves out the large term a user's power does not change (``U`` with it switched off),
  which the critic would otherwise have to learn.
- **Episode**: one instance from the scenario's initial powers (zeros; in SAC's training
  also from random levels, ``random_start``), ``horizon`` steps;
  the last power vector is the design. At each step each user moves with probability
  ``move_prob`` (it knows whether it does: the ``moves`` feature) and the others hold their
  power: users that all answer the same state at once over-react together and oscillate
  (period 2, measured), as simultaneous best responses do; asynchronous moves damp it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from twin.radio import (
    ProblemInstance,
    checked_best_response,
    difference_utility,
    priced_best_response,
    user_radio_state,
)
from twin.solvers import draw_movers

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
    "best_response_position",  # the action whose target is the anchor (a = 0)
    "price_full_power",  # price x p_max, nats
    "progress",  # step / horizon
    "moves",  # 1 if the user's action is applied this step, 0 if it holds its power
)


ACTIONS = ("relative", "level")
ANCHORS = ("checked", "priced", "priced-on")
COUNTERFACTUALS = ("off", "lowest", "hold")
OFF_POSITION = -0.5  # relative action: where "off" sits on the log scale (0: p_lo, 1: p_hi)
OFF_BELOW_POSITION = -0.25  # and targets below this switch off (p_lo above it)


@dataclass(frozen=True)
class UserMDPConfig:
    """Shape and scale of the per-user MDP; stored with datasets and agents."""

    horizon: int = 16
    violation_penalty: float = 10.0  # reward lost per unit of normalized violation added
    # D_i against p_i = 0 ("off"), the lowest level ("lowest") or the user's power before
    # the step ("hold": what its move gained, 0 for a user that held)
    counterfactual: str = "hold"
    off_fraction: float = 0.05  # share of the action interval that switches a user off
    move_prob: float = 0.5  # chance that a user's action is applied at a step
    action: str = "relative"  # "relative" to the priced best response, or an absolute "level"
    relative_span: float = 1.0  # relative: share of the log range one unit of action moves
    anchor: str = "checked"  # relative: where a = 0 points (ANCHORS; see the module docstring)
    check_step: float = 0.1  # checked: how far (share of the log range) its side levels are
    # relative: |a| below this is the anchor itself (the rest of [-1, 1] stretched to fill
    # the range), so that a policy can answer "the anchor" without an exact 0
    dead_zone: float = 0.0

    def __post_init__(self) -> None:
        if (self.horizon < 1 or self.violation_penalty < 0 or not 0 <= self.off_fraction < 1
                or self.counterfactual not in COUNTERFACTUALS
                or not 0 < self.move_prob <= 1 or self.action not in ACTIONS
                or not self.relative_span > 0 or self.anchor not in ANCHORS
                or not 0 <= self.check_step <= 1 or not 0 <= self.dead_zone < 1):  # fmt: skip
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
        # agents and datasets written before the relative action acted on absolute levels,
        # and those written before the checked anchor on the priced best response
        # ("anchor_on": raised to the lowest level)
        d = {k: v for k, v in d.items() if k != "formulation"}
        anchor = "priced-on" if d.pop("anchor_on", False) else "priced"
        return cls(**{"action": "level", "anchor": anchor, **d})


def _db(x: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, 1e-30))


def log_range(instance: ProblemInstance) -> tuple[float, float]:
    """``(p_lo, p_hi)``: the lowest non-zero and the highest level, mW."""
    lowest = instance.lowest_on_mw
    return (0.0, 0.0) if lowest is None else (lowest, instance.max_power_mw)


def _can_switch_off(instance: ProblemInstance, config: UserMDPConfig) -> bool:
    return config.off_fraction > 0 and instance.levels_mw[0] == 0.0


def log_position(instance: ProblemInstance, power_mw: np.ndarray) -> np.ndarray:
    """Where ``power_mw`` sits on the log scale: 0 at ``p_lo``, 1 at ``p_hi``,
    :data:`OFF_POSITION` for 0 mW."""
    p_lo, p_hi = log_range(instance)
    p = np.asarray(power_mw, dtype=float)
    if p_hi > p_lo:
        x = np.log(np.clip(p, p_lo, p_hi) / p_lo) / np.log(p_hi / p_lo)
    else:
        x = np.zeros(p.shape)
    return np.where(p <= 0.0, OFF_POSITION, x)


def best_response(instance: ProblemInstance, power_mw: np.ndarray, state=None) -> np.ndarray:
    """Each user's priced best response at ``power_mw`` (:func:`twin.radio.priced_best_response`
    with the instance's settings)."""
    return priced_best_response(
        instance.gains, instance.assoc, np.asarray(power_mw, dtype=float), instance.noise_mw,
        instance.bandwidth_hz, instance.price, instance.levels_mw, instance.reuse, state,
    )  # fmt: skip


def anchor_power(
    instance: ProblemInstance, power_mw: np.ndarray, config: UserMDPConfig, state=None
) -> np.ndarray:
    """Each user's anchor at ``power_mw`` (mW): where its relative action ``a = 0`` points
    (``state``, if given, is :func:`twin.radio.user_radio_state` there: saves computing it).

    The last few answers are kept (an environment asks for its current powers twice: to
    observe them and to apply the actions), because the checked anchor costs a few utility
    evaluations."""
    p = np.asarray(power_mw, dtype=float)
    key = (id(instance), config.anchor, config.check_step, p.tobytes())
    with _ANCHORS_LOCK:  # the app plans in worker threads
        hit = _ANCHORS_SEEN.get(key)
    if hit is not None and hit[0]() is instance:
        return hit[1]
    if config.anchor == "checked":
        anchor = checked_best_response(
            instance.gains, instance.assoc, p, instance.noise_mw, instance.bandwidth_hz,
            instance.price, instance.levels_mw, instance.reuse, config.check_step, state=state,
        )  # fmt: skip
    else:
        anchor = best_response(instance, p, state)
        if config.anchor == "priced-on":
            anchor = np.maximum(anchor, log_range(instance)[0])
    anchor.setflags(write=False)  # shared by the calls that hit the cache
    with _ANCHORS_LOCK:
        if len(_ANCHORS_SEEN) >= _ANCHORS_KEPT:
            _ANCHORS_SEEN.pop(next(iter(_ANCHORS_SEEN)))
        # a weak reference: a hit needs the very instance (an id may be reused once it is
        # gone), and the cache keeps no instance alive (10 000 x 100 gains are 8 MB)
        _ANCHORS_SEEN[key] = (weakref.ref(instance), anchor)
    return anchor


_ANCHORS_KEPT = 256
_ANCHORS_SEEN: dict[tuple, tuple[weakref.ref, np.ndarray]] = {}
_ANCHORS_LOCK = threading.Lock()


def _anchor(instance: ProblemInstance, power_mw: np.ndarray, config: UserMDPConfig) -> np.ndarray:
    """Where relative actions start: the anchor's log-scale position."""
    return log_position(instance, anchor_power(instance, power_mw, config))


def target_power(
    instance: ProblemInstance,
    action: np.ndarray,
    config: UserMDPConfig,
    power_mw: np.ndarray | None = None,
) -> np.ndarray:
    """Each user's target level for actions ``(U,)`` in ``[-1, 1]`` (log scale, snapped).

    ``relative`` actions move from the priced best response at ``power_mw`` (required
    then): ``x = x_br + relative_span a`` on the log scale, "off" below
    :data:`OFF_BELOW_POSITION`, so the best response is ``a = 0`` and "off" is a quarter of
    the log range away from the lowest level, not next to it."""
    p_lo, p_hi = log_range(instance)
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    off = _can_switch_off(instance, config)
    if config.action == "relative":
        if power_mw is None:
            raise ValueError("relative actions need the current powers")
        if config.dead_zone > 0:
            a = np.sign(a) * np.maximum(np.abs(a) - config.dead_zone, 0.0) / (
                1.0 - config.dead_zone)
        x = _anchor(instance, power_mw, config) + config.relative_span * a
        target = p_lo * (p_hi / p_lo) ** np.clip(x, 0.0, 1.0) if p_hi > p_lo else np.full(
            a.shape, p_hi)
        if off:
            target = np.where(x < OFF_BELOW_POSITION, 0.0, target)
        return instance.snap_to_levels(target)
    a0 = config.off_below if off else -1.0
    x = np.clip((a - a0) / (1.0 - a0), 0.0, 1.0)
    target = p_lo * (p_hi / p_lo) ** x if p_hi > p_lo else np.full(a.shape, p_hi)
    if off:
        target = np.where(a < a0, 0.0, target)
    return instance.snap_to_levels(target)


def action_for(
    instance: ProblemInstance,
    target_mw: np.ndarray,
    config: UserMDPConfig,
    power_mw: np.ndarray | None = None,
) -> np.ndarray:
    """The action whose target is ``target_mw`` (for ``relative`` actions: from the current
    powers ``power_mw``, clipped to ``[-1, 1]``; a level mode action puts 0 mW in the middle
    of the "off" band)."""
    if config.action == "relative":
        if power_mw is None:
            raise ValueError("relative actions need the current powers")
        x_br = _anchor(instance, power_mw, config)
        a = (log_position(instance, target_mw) - x_br) / config.relative_span
        if config.dead_zone > 0:  # the inverse of the stretch (the anchor stays at 0)
            a = np.sign(a) * (np.abs(a) * (1.0 - config.dead_zone) + config.dead_zone)
        return np.clip(a, -1.0, 1.0).astype(np.float32)
    return level_action(instance, target_mw, config)


def level_action(
    instance: ProblemInstance, power_mw: np.ndarray, config: UserMDPConfig
) -> np.ndarray:
    """The absolute-level action (``action="level"``) whose target is ``power_mw``: the
    position on the action interval that observations report."""
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
    """Which users' actions the next step applies (each with probability ``move_prob``): the
    draw of the best-response dynamics, so that ``a = 0`` everywhere ends on their design."""
    return draw_movers(rng, n_users, config.move_prob)


def apply_actions(
    instance: ProblemInstance,
    power_mw: np.ndarray,
    action: np.ndarray,
    moves: np.ndarray,
    config: UserMDPConfig,
) -> np.ndarray:
    """The next power vector: movers go to their target, the others hold."""
    return np.where(moves, target_power(instance, action, config, power_mw), power_mw)


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
        level_action(instance, p, config),
        _db(np.where(p > 0, state.sinr, 1e-3)) / DB_SCALE,
        _db(1.0 + state.interference_mw / noise) / DB_SCALE,
        _db((g.sum(axis=1) - g_serv) / g_serv) / DB_SCALE,
        np.log(np.maximum(state.own_benefit, 1e-30) / cost) / LOG_SCALE,
        np.log1p(state.interference_price / cost_floor) / LOG_SCALE,
        level_action(instance, anchor_power(instance, p, config, state), config),
        np.full(instance.n_users, instance.price * p_max),
        np.full(instance.n_users, step / config.horizon),
        np.ones(instance.n_users) if moves is None else np.asarray(moves, dtype=float),
    ], axis=1)  # fmt: skip
    return np.clip(features, -OBS_LIMIT, OBS_LIMIT).astype(np.float32)


def user_rewards(
    instance: ProblemInstance,
    power_mw: np.ndarray,
    config: UserMDPConfig,
    previous_mw: np.ndarray | None = None,
) -> tuple[np.ndarray, float, float]:
    """``(rewards (U,), utility, violation)``: each user's difference reward after a step
    (``previous_mw``, the powers before it, is what ``counterfactual="hold"`` compares to)."""
    p = np.asarray(power_mw, dtype=float)
    if config.counterfactual == "hold":
        if previous_mw is None:
            raise ValueError('counterfactual="hold" needs the powers before the step')
        held = np.repeat(p[None, :], p.size, axis=0)
        np.fill_diagonal(held, np.asarray(previous_mw, dtype=float))
        u_held, v_held = instance.objective(held)
        utility, violation = instance.objective(p)
        du, dv = utility - u_held, violation - v_held
        return du - config.violation_penalty * dv, float(utility), float(violation)
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
