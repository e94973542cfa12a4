"""Trained agents as twin controllers (``sac:DIR``, ``bcq:DIR``): load, roll out, decide."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.bcq import load_bcq
from agents.mdp import check_fits, next_power, observe
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


def rollout(agent: LoadedAgent, instance: ProblemInstance, power_mw: np.ndarray) -> np.ndarray:
    """Run the agent's policy for one episode horizon from ``power_mw``; return the design."""
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
    """Entry point ``sac:DIR`` (or ``sac:DIR/model.zip``) of the ``aign.controllers`` group."""
    return AgentController(load_agent("sac", _need_path("sac", args)), f"sac:{args}")


def bcq_controller(args: str) -> AgentController:
    """Entry point ``bcq:DIR`` of the ``aign.controllers`` group."""
    return AgentController(load_agent("bcq", _need_path("bcq", args)), f"bcq:{args}")


def _need_path(kind: str, args: str) -> str:
    if not args.strip():
        raise AignError(f"{kind} needs the trained agent's folder: {kind}:DIR")
    return args.strip()
