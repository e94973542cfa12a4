"""Behaviour policies for per-user collection: ``random``, ``coordinate``, ``sac:DIR``,
``bcq:DIR`` (per-user agents, or the shipped ones without a folder) and
``noisy:BASE,sigma=S[,epsilon=E]``.

A policy sees, for a batch of episodes, each one's ``(U, F)`` observations, instance and
current powers, and gives one action in ``[-1, 1]`` per user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from agents.peruser import UserMDPConfig, action_for
from agents.policies import _noisy_args
from twin.core import AignError
from twin.radio import ProblemInstance
from twin.solvers import coordinate_ascent


class UserPolicy(Protocol):
    """``begin`` gets each batch's episode seeds: every random choice depends on them alone."""

    name: str

    def begin(self, episode_seeds: Sequence[int]) -> None: ...

    def act(
        self,
        obs: Sequence[np.ndarray],
        instances: Sequence[ProblemInstance],
        powers: Sequence[np.ndarray],
    ) -> list[np.ndarray]: ...


class _PerEpisodeRandom:
    def __init__(self, seed: int):
        self.seed = seed
        self.rngs: list[np.random.Generator] = []

    def begin(self, episode_seeds: Sequence[int]) -> None:
        self.rngs = [np.random.default_rng([self.seed, int(s), 1]) for s in episode_seeds]


class RandomUserPolicy(_PerEpisodeRandom):
    """Uniform actions: every level on the log scale (and "off") equally often."""

    name = "random"

    def act(self, obs, instances, powers) -> list[np.ndarray]:
        return [rng.uniform(-1, 1, len(o)).astype(np.float32)
                for rng, o in zip(self.rngs, obs, strict=True)]  # fmt: skip


class CoordinateUserPolicy:
    """Expert: every user targets its level in the instance's coordinate-ascent design."""

    name = "coordinate"

    def __init__(self, config: UserMDPConfig, starts: int = 2):
        self.config, self.starts = config, starts
        self._targets: dict[int, np.ndarray] = {}

    def begin(self, episode_seeds: Sequence[int]) -> None:
        self._targets.clear()

    def act(self, obs, instances, powers) -> list[np.ndarray]:
        out = []
        for inst, power in zip(instances, powers, strict=True):
            if id(inst) not in self._targets:
                self._targets[id(inst)] = coordinate_ascent(inst, starts=self.starts)
            out.append(action_for(inst, self._targets[id(inst)], self.config, power))
        return out


class AgentUserPolicy:
    """A trained per-user agent's deterministic actions (all episodes in one batch)."""

    def __init__(self, name: str, predict):
        self.name, self._predict = name, predict

    def begin(self, episode_seeds: Sequence[int]) -> None:
        pass

    def act(self, obs, instances, powers) -> list[np.ndarray]:
        actions = np.asarray(self._predict(np.concatenate(obs)), dtype=np.float32).reshape(-1)
        return np.split(actions, np.cumsum([len(o) for o in obs])[:-1])


class NoisyUserPolicy(_PerEpisodeRandom):
    """A base policy plus Gaussian noise ``sigma`` and, per user-step with probability
    ``epsilon``, a uniform action: the in-between quality that fills the return range."""

    def __init__(self, base: UserPolicy, sigma: float, epsilon: float, seed: int):
        super().__init__(seed)
        self.name = f"noisy:{base.name},sigma={sigma:g},epsilon={epsilon:g}"
        self.base, self.sigma, self.epsilon = base, sigma, epsilon

    def begin(self, episode_seeds: Sequence[int]) -> None:
        super().begin(episode_seeds)
        self.base.begin(episode_seeds)

    def act(self, obs, instances, powers) -> list[np.ndarray]:
        out = []
        for a, rng in zip(self.base.act(obs, instances, powers), self.rngs, strict=True):
            noisy = a + rng.normal(0, self.sigma, a.shape)
            flip = rng.random(a.shape) < self.epsilon
            noisy = np.where(flip, rng.uniform(-1, 1, a.shape), noisy)
            out.append(np.clip(noisy, -1, 1).astype(np.float32))
        return out


def policy_action(spec: str) -> dict:
    """How a per-user agent in ``spec`` reads its actions (``anchor``, ``dead_zone``;
    ``noisy:`` looked through), so that a collection applies them as the agent meant them;
    empty for the other policies. Reads the agent's description only, not its weights."""
    name, _, args = spec.strip().partition(":")
    if name == "noisy":
        return policy_action(_noisy_args(args)[0])
    if name not in ("sac", "bcq"):
        return {}
    from pathlib import Path

    from agents.controllers import default_agent_dir
    from agents.stored import agent_config, read_agent_meta

    folder, meta = read_agent_meta(Path(args) if args.strip() else default_agent_dir(name), name)
    config = agent_config(folder, meta)
    if not isinstance(config, UserMDPConfig):
        return {}
    return {"anchor": config.anchor, "dead_zone": config.dead_zone}


def make_user_policy(spec: str, config: UserMDPConfig, seed: int = 0) -> UserPolicy:
    """Build a per-user behaviour policy from its spec (see the module docstring)."""
    name, _, args = spec.strip().partition(":")
    if name == "random":
        return RandomUserPolicy(seed)
    if name == "coordinate":
        return CoordinateUserPolicy(config)
    if name in ("sac", "bcq"):
        from pathlib import Path

        from agents.controllers import default_agent_dir, load_agent

        agent = load_agent(name, Path(args) if args.strip() else default_agent_dir(name))
        if not agent.per_user:
            raise AignError(
                f"{spec}: a joint-formulation agent (padded to {agent.config.max_users} users); "
                f"collect with --formulation joint --max-users {agent.config.max_users}"
            )
        mine = (agent.config.action, agent.config.anchor, agent.config.dead_zone)
        if mine != (config.action, config.anchor, config.dead_zone):
            raise AignError(f"{spec}: acts on {agent.config.action!r} actions (anchor "
                            f"{agent.config.anchor}, dead zone {agent.config.dead_zone:g}), "
                            f"this collection records {config.action!r} ones (anchor "
                            f"{config.anchor}, dead zone {config.dead_zone:g}); retrain it "
                            f"with this aign")  # fmt: skip
        if agent.config.horizon != config.horizon or agent.config.move_prob != config.move_prob:
            raise AignError(f"{spec}: trained with horizon {agent.config.horizon} and move_prob "
                            f"{agent.config.move_prob:g}; collect with --horizon "
                            f"{agent.config.horizon}")  # fmt: skip
        return AgentUserPolicy(spec.strip(), agent.predict)
    if name == "noisy":
        base_spec, sigma, epsilon = _noisy_args(args)
        return NoisyUserPolicy(make_user_policy(base_spec, config, seed), sigma, epsilon,
                               seed + 1)  # fmt: skip
    raise AignError(
        f"unknown policy {spec!r}; use random, coordinate, sac[:DIR], bcq[:DIR] or "
        f"noisy:BASE,sigma=S[,epsilon=E]"
    )
