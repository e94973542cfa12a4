"""The power-allocation MDP, as pure functions shared by the Gymnasium environment, the
dataset tools and the learned controllers.

An episode is one problem instance. The state is the instance's features plus the current
power vector; an action moves every user's power by up to ``max_step_fraction`` of the
highest level (then snapped to a level); the reward is the utility after the step, per
user, minus a penalty for broken constraints. Episodes start from the scenario's initial
powers and last ``horizon`` steps; the last power vector is the design. User counts vary,
so every per-user quantity is padded to ``max_users`` and masked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from twin.radio import ProblemInstance, interference_mw, serving_gain

USER_FEATURES = 6  # per user: SNR at max power, power, spectral eff., leakage, interference, mask
GLOBAL_FEATURES = 3  # user count share, price x max power, episode progress
OBS_LIMIT = 10.0  # features are clipped to [-OBS_LIMIT, OBS_LIMIT]


@dataclass(frozen=True)
class MDPConfig:
    """Shape and scale of the MDP; stored with datasets and models so they can be checked."""

    max_users: int
    horizon: int = 8
    max_step_fraction: float = 0.25  # largest power change per step, share of the top level
    violation_penalty: float = 10.0  # reward lost per unit of normalized constraint violation

    def __post_init__(self) -> None:
        if self.max_users < 1 or self.horizon < 1 or not 0 < self.max_step_fraction <= 1:
            raise ValueError(f"invalid MDP config {self}")

    @property
    def obs_dim(self) -> int:
        return self.max_users * USER_FEATURES + GLOBAL_FEATURES

    def to_dict(self) -> dict:
        return asdict(self)


def check_fits(instance: ProblemInstance, config: MDPConfig) -> None:
    """Refuse an instance larger than the model or dataset was built for."""
    if instance.n_users > config.max_users:
        raise ValueError(
            f"the instance has {instance.n_users} users but this model/dataset handles at most "
            f"{config.max_users}; retrain with --users including {instance.n_users}"
        )


def _db(x: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, 1e-12))


def observe(
    instance: ProblemInstance, power_mw: np.ndarray, step: int, config: MDPConfig
) -> np.ndarray:
    """The observation vector (``obs_dim``, float32): padded per-user block, then globals."""
    n, p_max = instance.n_users, instance.max_power_mw
    noise = instance.noise_mw
    g_serv = serving_gain(instance.gains, instance.assoc)
    interference = interference_mw(instance.gains, instance.assoc, power_mw, instance.reuse)
    sinr = power_mw * g_serv / (noise + interference)
    leakage = instance.gains.sum(axis=1) - g_serv  # gain towards BSs that do not serve i
    per_user = np.zeros((config.max_users, USER_FEATURES))
    per_user[:n, 0] = _db(g_serv * p_max / noise) / 50.0
    per_user[:n, 1] = power_mw / max(p_max, 1e-12)
    per_user[:n, 2] = np.log2(1.0 + sinr) / 10.0
    per_user[:n, 3] = _db(leakage * p_max / noise) / 50.0
    per_user[:n, 4] = _db(1.0 + interference / noise) / 30.0
    per_user[:n, 5] = 1.0
    globals_ = [n / config.max_users, instance.price * p_max, step / config.horizon]
    obs = np.concatenate([per_user.ravel(), globals_])
    return np.clip(obs, -OBS_LIMIT, OBS_LIMIT).astype(np.float32)


def next_power(
    instance: ProblemInstance, power_mw: np.ndarray, action: np.ndarray, config: MDPConfig
) -> np.ndarray:
    """Apply an action in [-1, 1] per (padded) user: move, clip to the levels' range, snap.

    Batched too: leading axes of ``power_mw`` and ``action`` are candidates (element-wise,
    so each row gives exactly what it gives alone)."""
    a = np.clip(np.asarray(action, dtype=float)[..., : instance.n_users], -1.0, 1.0)
    moved = power_mw + a * config.max_step_fraction * instance.max_power_mw
    moved = np.clip(moved, instance.levels_mw[0], instance.max_power_mw)
    return instance.snap_to_levels(moved)


def action_towards(
    instance: ProblemInstance, power_mw: np.ndarray, target_mw: np.ndarray, config: MDPConfig
) -> np.ndarray:
    """The (padded) action moving ``power_mw`` as far towards ``target_mw`` as a step allows
    (batched over leading axes like :func:`next_power`)."""
    step = config.max_step_fraction * instance.max_power_mw
    power_mw = np.asarray(power_mw)
    action = np.zeros((*power_mw.shape[:-1], config.max_users), dtype=np.float32)
    action[..., : instance.n_users] = np.clip((target_mw - power_mw) / step, -1.0, 1.0)
    return action


def reward(
    instance: ProblemInstance, power_mw: np.ndarray, config: MDPConfig
) -> tuple[float, float, float]:
    """``(reward, utility, violation)``: reward is utility per user minus the penalty."""
    u, v = instance.objective(power_mw)
    utility, violation = float(u), float(v)
    return utility / instance.n_users - config.violation_penalty * violation, utility, violation


def initial_power(instance: ProblemInstance, initial_mw: float = 0.0) -> np.ndarray:
    """Every user at the scenario's initial level (zeros by default)."""
    return instance.snap_to_levels(np.full(instance.n_users, float(initial_mw)))
