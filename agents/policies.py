"""Behaviour policies for data collection: ``random``, ``coordinate`` (expert rollouts towards
the coordinate-ascent design), ``sac:PATH``, ``bcq:DIR`` and ``noisy:BASE,sigma=S``.

A policy sees a batch of observations together with each environment's instance and current
powers (what ``gymnasium`` vector environments expose through ``get_attr``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from agents.mdp import MDPConfig, action_towards
from twin.core import AignError
from twin.radio import ProblemInstance
from twin.solvers import coordinate_ascent


class Policy(Protocol):
    """``begin`` receives each new batch's episode seeds, so that every random choice of an
    episode depends on its seed alone (a resumed collection repeats an uninterrupted one)."""

    name: str

    def begin(self, episode_seeds: Sequence[int]) -> None: ...

    def act(
        self, obs: np.ndarray, instances: Sequence[ProblemInstance], powers: Sequence[np.ndarray]
    ) -> np.ndarray: ...


class _PerEpisodeRandom:
    """One generator per episode in the batch, seeded by ``(policy seed, episode seed)``."""

    def __init__(self, seed: int):
        self.seed = seed
        self.rngs: list[np.random.Generator] = []

    def begin(self, episode_seeds: Sequence[int]) -> None:
        self.rngs = [np.random.default_rng([self.seed, int(s)]) for s in episode_seeds]


class RandomPolicy(_PerEpisodeRandom):
    """Uniform actions in [-1, 1]: broad coverage, low quality."""

    def __init__(self, config: MDPConfig, seed: int = 0):
        super().__init__(seed)
        self.name, self.config = "random", config

    def act(self, obs, instances, powers) -> np.ndarray:
        n = self.config.max_users
        return np.stack([rng.uniform(-1, 1, n) for rng in self.rngs]).astype(np.float32)


class CoordinatePolicy:
    """Expert: head straight for the instance's coordinate-ascent design."""

    def __init__(self, config: MDPConfig, starts: int = 2):
        self.name, self.config, self.starts = "coordinate", config, starts
        self._targets: dict[int, np.ndarray] = {}

    def begin(self, episode_seeds: Sequence[int]) -> None:
        self._targets.clear()

    def act(self, obs, instances, powers) -> np.ndarray:
        actions = []
        for inst, p in zip(instances, powers, strict=True):
            key = id(inst)
            if key not in self._targets:
                self._targets[key] = coordinate_ascent(inst, starts=self.starts)
            actions.append(action_towards(inst, p, self._targets[key], self.config))
        return np.stack(actions)


class ModelPolicy:
    """A trained agent's deterministic actions on a batch of observations."""

    def __init__(self, name: str, predict, config: MDPConfig):
        self.name, self._predict, self.config = name, predict, config

    def begin(self, episode_seeds: Sequence[int]) -> None:
        pass

    def act(self, obs, instances, powers) -> np.ndarray:
        return np.asarray(self._predict(obs), dtype=np.float32)


class NoisyPolicy(_PerEpisodeRandom):
    """A base policy plus Gaussian action noise (``sigma``) and, with probability ``epsilon``
    per step, a uniformly random action: the in-between quality that fills the return range."""

    def __init__(self, base: Policy, config: MDPConfig, sigma: float, epsilon: float, seed: int):
        super().__init__(seed)
        self.name = f"noisy:{base.name},sigma={sigma:g},epsilon={epsilon:g}"
        self.base, self.config, self.sigma, self.epsilon = base, config, sigma, epsilon

    def begin(self, episode_seeds: Sequence[int]) -> None:
        super().begin(episode_seeds)
        self.base.begin(episode_seeds)

    def act(self, obs, instances, powers) -> np.ndarray:
        a = self.base.act(obs, instances, powers).astype(float)
        for row, rng in zip(a, self.rngs, strict=True):
            if rng.random() < self.epsilon:
                row[:] = rng.uniform(-1, 1, row.shape)
            else:
                row += rng.normal(0, self.sigma, row.shape)
        return np.clip(a, -1, 1).astype(np.float32)


def make_policy(spec: str, config: MDPConfig, seed: int = 0) -> Policy:
    """Build a behaviour policy from its spec (see the module docstring)."""
    name, _, args = spec.strip().partition(":")
    if name == "random":
        return RandomPolicy(config, seed)
    if name == "coordinate":
        return CoordinatePolicy(config)
    if name in ("sac", "bcq"):
        if not args:
            raise AignError(f"policy {name!r} needs a path: {name}:DIR")
        from agents.controllers import load_agent

        agent = load_agent(name, args)
        if agent.config.obs_dim != config.obs_dim:
            raise AignError(
                f"{spec}: the model was trained for {agent.config.max_users} users "
                f"(observation size {agent.config.obs_dim}); this collection uses "
                f"{config.max_users} ({config.obs_dim}); pass --max-users {agent.config.max_users}"
            )
        return ModelPolicy(spec, agent.predict, config)
    if name == "noisy":
        base_spec, sigma, epsilon = _noisy_args(args)
        return NoisyPolicy(make_policy(base_spec, config, seed), config, sigma, epsilon, seed + 1)
    raise AignError(
        f"unknown policy {spec!r}; use random, coordinate, sac:DIR, bcq:DIR or "
        f"noisy:BASE,sigma=S[,epsilon=E]"
    )


def _noisy_args(args: str) -> tuple[str, float, float]:
    base_parts, sigma, epsilon = [], 0.3, 0.0
    for part in args.split(","):
        key, eq, value = part.partition("=")
        if eq and key.strip() in ("sigma", "epsilon"):
            try:
                number = float(value)
            except ValueError:
                raise AignError(f"noisy: {key.strip()} must be a number, got {value!r}") from None
            if not 0 <= number <= (1 if key.strip() == "epsilon" else 10):
                raise AignError(f"noisy: {key.strip()}={number:g} is out of range")
            sigma, epsilon = (number, epsilon) if key.strip() == "sigma" else (sigma, number)
        else:
            base_parts.append(part)
    base = ",".join(base_parts).strip()
    if not base:
        raise AignError("noisy needs a base policy, e.g. noisy:coordinate,sigma=0.3")
    return base, sigma, epsilon
