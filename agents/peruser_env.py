"""The per-user MDP (:mod:`agents.peruser`) as Gymnasium environments and an SB3 vector env.

- :class:`PerUserEnv` (``aign/PerUserPowerAllocation-v0`` through ``gymnasium.make``): one
  instance of a fixed user count, every user acting at once (observation ``(U, F)``, action
  ``(U,)``, reward the mean of the users' difference rewards, each user's in
  ``info["user_rewards"]``). A plain ``gymnasium.Env``, so both public checkers apply.
- :class:`UserSlotsVectorEnv` (the same id through ``gymnasium.make_vec``): the vector's slots
  are the users of a group of instances, one per user count and ``groups`` times over,
  so one shared policy sees ``(F,)`` observations and gives ``(1,)`` actions, whatever the
  user counts. Every instance has the same horizon, so all slots end their episode on the
  same step; the vector then resets every instance at once (same-step autoreset:
  ``infos["final_obs"]`` holds the last observations).
- :class:`SB3VecEnv` adapts it to stable-baselines3's ``VecEnv`` (SB3 does not take
  Gymnasium vector envs): ``terminal_observation`` in the infos, seeds through ``seed()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space
from stable_baselines3.common.vec_env import VecEnv

from agents.constraint_draw import ConstraintDraw
from agents.mdp import initial_power
from agents.peruser import (
    OBS_LIMIT,
    USER_FEATURES,
    UserMDPConfig,
    apply_actions,
    draw_moves,
    observe_users,
    user_rewards,
)
from twin.radio import InstanceSampler, ProblemInstance
from twin.scenario import Scenario, load_scenario


def _scenario(scenario: str | Scenario) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


class PerUserEnv(gym.Env):
    """One instance of ``n_users`` users drawn from a scenario, all users acting at once.

    ``options={"instance": inst}`` pins an instance (of ``n_users`` users). ``info`` carries
    ``utility``, ``violation``, ``user_rewards`` and, at the end, ``power_mw`` (the design).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str | Scenario = "paper-fig3",
        n_users: int | None = None,
        horizon: int = 16,
        violation_penalty: float = 10.0,
        environment_seed: int = 0,
        noise_jitter_db: float = 0.0,
        constraint_draw: ConstraintDraw | None = None,
        counterfactual: str = "hold",
        move_prob: float = 0.5,
        action: str = "relative",
        random_start: float = 0.0,
        anchor: str = "checked",
        price_jitter: float = 1.0,
        sampler: InstanceSampler | None = None,
        dead_zone: float = 0.0,
    ):
        self.scenario = _scenario(scenario)
        self.n_users = int(n_users or self.scenario.users.n)
        if self.n_users < 1:
            raise ValueError(f"n_users must be positive, got {self.n_users}")
        self.config = UserMDPConfig(horizon, violation_penalty, counterfactual,
                                    move_prob=move_prob, action=action,
                                    anchor=anchor, dead_zone=dead_zone)  # fmt: skip
        if not 0 <= random_start <= 1:
            raise ValueError(f"random_start must be a probability, got {random_start}")
        self.random_start = random_start
        # The sampler's shadowing fields cost about a second to draw: environments of one
        # scenario and environment share one (it keeps no per-episode state).
        self.sampler = sampler or InstanceSampler(self.scenario, environment_seed,
                                                  noise_jitter_db, price_jitter)  # fmt: skip
        self.constraint_draw = constraint_draw
        f = self.config.obs_dim
        self.observation_space = spaces.Box(-OBS_LIMIT, OBS_LIMIT, (self.n_users, f), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (self.n_users,), np.float32)
        self.instance: ProblemInstance | None = None
        self.power_mw = np.zeros(0)
        self.t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "instance" in options:
            instance = options["instance"]
            if instance.n_users != self.n_users:
                raise ValueError(
                    f"the instance has {instance.n_users} users, this environment {self.n_users}"
                )
            self.instance = instance
        else:
            self.instance = self.sampler.sample(self.np_random, self.n_users)
            if self.constraint_draw is not None:
                self.instance = self.constraint_draw.apply(self.instance, self.np_random)
        self.power_mw = initial_power(self.instance, self.scenario.power.initial_mw)
        if self.random_start and self.np_random.random() < self.random_start:
            levels = self.instance.levels_mw  # training starts: every level equally likely
            self.power_mw = levels[self.np_random.integers(0, len(levels), self.n_users)]
        self.t = 0
        self.moves = draw_moves(self.np_random, self.n_users, self.config)
        utility, violation = self.instance.objective(self.power_mw)
        info = {"utility": float(utility), "violation": float(violation)}
        return self._observe(), info

    def _observe(self) -> np.ndarray:
        return observe_users(self.instance, self.power_mw, self.t, self.config, self.moves)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.instance is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action).reshape(-1)
        previous = self.power_mw
        self.power_mw = apply_actions(self.instance, self.power_mw, action, self.moves,
                                      self.config)  # fmt: skip
        self.t += 1
        self.moves = draw_moves(self.np_random, self.n_users, self.config)
        rewards, utility, violation = user_rewards(self.instance, self.power_mw, self.config,
                                                   previous)
        terminated = self.t >= self.config.horizon
        info: dict[str, Any] = {"utility": utility, "violation": violation,
                                "user_rewards": rewards}  # fmt: skip
        if terminated:
            info["power_mw"] = self.power_mw.tolist()
        return self._observe(), float(rewards.mean()), terminated, False, info


class UserSlotsVectorEnv(gym.vector.VectorEnv):
    """The users of a group of instances as the slots of one vector environment.

    The group holds, ``groups`` times over, one instance of each scenario in ``scenario``
    (one or several: a mix of network families) for each count in ``users`` (default: the
    scenario's own count; an entry ``(scenario, n)`` pins its count to ``n``), so
    ``num_envs = groups * sum of those counts``. ``price_jitter`` and ``noise_jitter_db``
    randomize each drawn instance as :class:`~twin.radio.InstanceSampler` does. ``reset(seed=s)``
    seeds instance ``j`` with ``s + j`` (or takes one seed per instance); later episodes
    continue each instance's own stream.
    """

    metadata = {"render_modes": [], "autoreset_mode": "same-step"}

    def __init__(
        self,
        scenario: str | Scenario | Sequence[str | Scenario | tuple[str | Scenario, int]] = (
            "paper-fig3"
        ),
        users: Sequence[int] | None = None,
        groups: int = 1,
        horizon: int = 16,
        violation_penalty: float = 10.0,
        environment_seed: int = 0,
        noise_jitter_db: float = 0.0,
        constraint_draw: ConstraintDraw | None = None,
        counterfactual: str = "hold",
        move_prob: float = 0.5,
        action: str = "relative",
        random_start: float = 0.0,
        anchor: str = "checked",
        price_jitter: float = 1.0,
        dead_zone: float = 0.0,
    ):
        many = not isinstance(scenario, str | Scenario)
        entries = [e if isinstance(e, tuple) else (e, None)
                   for e in (scenario if many else [scenario])]  # fmt: skip
        self.scenarios = [_scenario(s) for s, _ in entries]
        pinned = [None if n is None else int(n) for _, n in entries]
        if not self.scenarios:
            raise ValueError("no scenario given")
        self.user_counts = tuple(int(u) for u in users) if users else None
        if groups < 1 or min((n for n in pinned if n is not None), default=1) < 1 or (
                self.user_counts is not None and (
                    not self.user_counts or min(self.user_counts) < 1)):  # fmt: skip
            raise ValueError(f"users must be positive counts and groups >= 1, got "
                             f"{self.user_counts}, {groups}")  # fmt: skip
        self.envs = [
            PerUserEnv(sc, n, horizon, violation_penalty, environment_seed, noise_jitter_db,
                       constraint_draw, counterfactual, move_prob, action,
                       random_start, anchor, price_jitter=price_jitter,
                       dead_zone=dead_zone)  # fmt: skip
            for _ in range(groups) for sc, pin in zip(self.scenarios, pinned, strict=True)
            for n in ([pin] if pin is not None else self.user_counts or [sc.users.n])
        ]
        self.scenario, self.config = self.scenarios[0], self.envs[0].config
        ends = np.cumsum([e.n_users for e in self.envs])
        self.slots = [slice(int(end - e.n_users), int(end)) for end, e in
                      zip(ends, self.envs, strict=True)]  # fmt: skip
        self.num_envs = int(ends[-1])
        self.single_observation_space = spaces.Box(
            -OBS_LIMIT, OBS_LIMIT, (self.config.obs_dim,), np.float32
        )
        self.single_action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.feature_names = USER_FEATURES

    @property
    def instances(self) -> list[ProblemInstance]:
        return [e.instance for e in self.envs]

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is None or isinstance(seed, int | np.integer):
            seeds = [None if seed is None else int(seed) + j for j in range(len(self.envs))]
        else:
            seeds = [int(s) for s in seed]
            if len(seeds) != len(self.envs):
                raise ValueError(f"{len(seeds)} seeds for {len(self.envs)} instances")
        obs = [e.reset(seed=s, options=options)[0] for e, s in zip(self.envs, seeds, strict=True)]
        return np.concatenate(obs), {}

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs)
        obs, rewards, utilities, done = [], [], [], False
        for env, slot in zip(self.envs, self.slots, strict=True):
            o, _, done, _, info = env.step(actions[slot])
            obs.append(o)
            rewards.append(info["user_rewards"])
            utilities.append(np.full(env.n_users, info["utility"]))
        observations = np.concatenate(obs)
        infos: dict[str, Any] = {"utility": np.concatenate(utilities)}
        terminations = np.full(self.num_envs, done)
        if done:  # every instance ends together: same-step autoreset
            infos["final_obs"] = observations
            infos["final_power_mw"] = [e.power_mw.copy() for e in self.envs]
            observations = np.concatenate([e.reset()[0] for e in self.envs])
        rewards_all = np.concatenate(rewards).astype(np.float32)
        return observations, rewards_all, terminations, np.zeros(self.num_envs, bool), infos


def make_user_slots(num_envs: int = 1, **kwargs: Any) -> UserSlotsVectorEnv:
    """``gymnasium.make_vec`` entry point: ``num_envs`` is the number of instance groups
    (the vector's ``num_envs`` is then their total user count)."""
    return UserSlotsVectorEnv(groups=num_envs, **kwargs)


class SB3VecEnv(VecEnv):
    """:class:`UserSlotsVectorEnv` behind stable-baselines3's ``VecEnv`` interface."""

    def __init__(self, vector: UserSlotsVectorEnv):
        self.vector = vector
        super().__init__(vector.num_envs, vector.single_observation_space,
                         vector.single_action_space)  # fmt: skip
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seed = None if self._seeds[0] is None else int(self._seeds[0])
        obs, _ = self.vector.reset(seed=seed)
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, info = self.vector.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            for i, final in enumerate(info["final_obs"]):
                infos[i] = {"terminal_observation": final, "TimeLimit.truncated": False}
        return obs, rewards, dones, infos

    def close(self) -> None:
        self.vector.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.vector, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.vector, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        result = getattr(self.vector, method_name)(*args, **kwargs)
        return [result] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))
