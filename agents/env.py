"""``aign/PowerAllocation-v0``: the power-allocation MDP as a Gymnasium environment.

Each ``reset`` draws a problem instance from the scenario (user count from ``users``,
positions, LOS, shadowing, fading, optional noise jitter) through the twin's public
:class:`~twin.radio.sampling.InstanceSampler` and, with ``constraint_draw``, per-episode constraint
limits (:mod:`agents.constraint_draw`); ``options={"instance": inst}`` pins one instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.constraint_draw import ConstraintDraw
from agents.mdp import (
    OBS_LIMIT,
    MDPConfig,
    check_fits,
    initial_power,
    next_power,
    observe,
    reward,
)
from twin.radio import InstanceSampler, ProblemInstance
from twin.scenario import Scenario, load_scenario


class PowerAllocationEnv(gym.Env):
    """Uplink power allocation on instances drawn from a scenario.

    Observation: ``MDPConfig.obs_dim`` features in ``[-10, 10]``; action: one value in
    ``[-1, 1]`` per (padded) user; reward: utility per user after the step minus a
    constraint penalty; the episode terminates after ``horizon`` steps. ``info`` carries
    ``utility``, ``violation``, ``n_users`` and, at the end, ``power_mw`` (the design).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str | Scenario = "paper-fig3",
        users: Sequence[int] | None = None,
        max_users: int | None = None,
        horizon: int = 8,
        max_step_fraction: float = 0.25,
        violation_penalty: float = 10.0,
        environment_seed: int = 0,
        noise_jitter_db: float = 0.0,
        constraint_draw: ConstraintDraw | None = None,
    ):
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.user_counts = tuple(int(u) for u in (users or [self.scenario.users.n]))
        if not self.user_counts or min(self.user_counts) < 1:
            raise ValueError(f"users must be positive counts, got {self.user_counts}")
        self.config = MDPConfig(
            max_users=max_users or max(self.user_counts),
            horizon=horizon,
            max_step_fraction=max_step_fraction,
            violation_penalty=violation_penalty,
        )
        if max(self.user_counts) > self.config.max_users:
            raise ValueError(f"users {self.user_counts} exceed max_users {self.config.max_users}")
        self.sampler = InstanceSampler(self.scenario, environment_seed, noise_jitter_db)
        self.constraint_draw = constraint_draw
        self.observation_space = spaces.Box(
            -OBS_LIMIT, OBS_LIMIT, shape=(self.config.obs_dim,), dtype=np.float32
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.config.max_users,), dtype=np.float32)
        self.instance: ProblemInstance | None = None
        self.power_mw = np.zeros(0)
        self.t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "instance" in options:
            self.instance = options["instance"]
        else:
            n = int(self.np_random.choice(self.user_counts))
            self.instance = self.sampler.sample(self.np_random, n)
            if self.constraint_draw is not None:
                self.instance = self.constraint_draw.apply(self.instance, self.np_random)
        check_fits(self.instance, self.config)
        self.power_mw = initial_power(self.instance, self.scenario.power.initial_mw)
        self.t = 0
        _, utility, violation = reward(self.instance, self.power_mw, self.config)
        info = {"utility": utility, "violation": violation, "n_users": self.instance.n_users}
        return observe(self.instance, self.power_mw, 0, self.config), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.instance is None:
            raise RuntimeError("call reset() before step()")
        self.power_mw = next_power(self.instance, self.power_mw, action, self.config)
        self.t += 1
        r, utility, violation = reward(self.instance, self.power_mw, self.config)
        terminated = self.t >= self.config.horizon
        info: dict[str, Any] = {
            "utility": utility,
            "violation": violation,
            "n_users": self.instance.n_users,
        }
        if terminated:
            # a list, not an array: vector envs stack array infos, and user counts differ
            info["power_mw"] = self.power_mw.tolist()
        obs = observe(self.instance, self.power_mw, self.t, self.config)
        return obs, r, terminated, False, info
