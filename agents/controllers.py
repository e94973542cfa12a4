"""Trained agents as twin controllers (``sac:DIR``, ``bcq:DIR``): load, roll out, decide.

``sac`` and ``bcq`` without a folder take the agents that ship in ``models/`` (built by
``make agents``), so ``aign solve INSTANCE --method sac`` works out of the box.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.bcq import load_bcq
from agents.mdp import check_fits, next_power, observe
from agents.peruser import rollout_users
from agents.sac import load_sac
from agents.stored import LoadedAgent
from twin.controllers import Observation
from twin.core import AignError
from twin.radio import ProblemInstance


def load_agent(kind: str, path: str | Path) -> LoadedAgent:
    """Load a trained SAC or BCQ agent for acting."""
    if kind == "sac":
        return load_sac(path)
    if kind == "bcq":
        return load_bcq(path)
    raise AignError(f"unknown agent kind {kind!r}")


MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_AGENT_DIRS = {"sac": MODELS_DIR / "sac", "bcq": MODELS_DIR / "bcq"}


def default_agent_dir(kind: str) -> Path:
    """The shipped agent of ``kind``, or a clear error saying how to build it."""
    folder = DEFAULT_AGENT_DIRS[kind]
    if not (folder / "agent.json").exists():
        raise AignError(
            f"{kind} without a folder uses the shipped agent {folder}, which is missing; build it "
            f"with `make agents` or give one: {kind}:DIR"
        )
    return folder


def rollout(agent: LoadedAgent, instance: ProblemInstance, power_mw: np.ndarray) -> np.ndarray:
    """Run the agent's policy for one episode horizon from ``power_mw``; return the design."""
    if agent.per_user:
        return rollout_users(agent.predict, instance, power_mw, agent.config)
    check_fits(instance, agent.config)
    power = np.asarray(power_mw, dtype=float)
    for t in range(agent.config.horizon):
        obs = observe(instance, power, t, agent.config)
        action = agent.predict(obs[None])[0]
        power = next_power(instance, power, action, agent.config)
    return power


class AgentController:
    """A trained agent as a twin controller: at every decision epoch it rolls its policy
    for one horizon from the powers in force and proposes the final powers."""

    def __init__(self, agent: LoadedAgent, spec: str):
        self.agent, self.name = agent, spec

    def reset(self, instance: ProblemInstance) -> None:
        if self.agent.per_user:
            return
        try:
            check_fits(instance, self.agent.config)
        except ValueError as exc:
            raise AignError(f"{self.name}: {exc}") from None

    def decide(self, observation: Observation) -> np.ndarray:
        try:
            return rollout(self.agent, observation.instance, observation.power_mw)
        except ValueError as exc:
            raise AignError(f"{self.name}: {exc}") from None


def sac_controller(args: str) -> AgentController:
    """Entry point ``sac[:DIR]`` (or ``sac:DIR/model.zip``) of the ``aign.controllers`` group."""
    return AgentController(load_agent("sac", _path("sac", args)), _spec("sac", args))


def bcq_controller(args: str) -> AgentController:
    """Entry point ``bcq[:DIR]`` of the ``aign.controllers`` group."""
    return AgentController(load_agent("bcq", _path("bcq", args)), _spec("bcq", args))


def _path(kind: str, args: str) -> Path:
    return Path(args.strip()) if args.strip() else default_agent_dir(kind)


def _spec(kind: str, args: str) -> str:
    return f"{kind}:{args.strip()}" if args.strip() else kind
