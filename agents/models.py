"""Trained agents on disk, loaded safely, and used as twin controllers.

An agent folder holds ``agent.json`` (kind, MDP config, network settings, where it came
from) and the weights: ``policy.safetensors`` for SAC, ``model.pt`` (a state dict loaded
with ``torch.load(..., weights_only=True)``) for BCQ. Nothing is unpickled: SB3's own
``model.zip`` is written too, for resuming training, but never read here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.mdp import MDPConfig, check_fits, next_power, observe
from twin.controllers.base import Observation
from twin.core.errors import AignError
from twin.radio.instance import ProblemInstance

AGENT_FILE = "agent.json"


@dataclass
class LoadedAgent:
    """A policy ready to act: ``predict`` maps a batch of observations to actions."""

    kind: str
    path: Path
    config: MDPConfig
    predict: Callable[[np.ndarray], np.ndarray]
    meta: dict[str, Any]


def agent_dir(path: str | Path) -> Path:
    """The agent folder for ``DIR``, ``DIR/model.zip`` or ``DIR/agent.json``."""
    p = Path(path)
    return p.parent if p.suffix in (".zip", ".json", ".safetensors", ".pt") else p


def read_agent_meta(path: str | Path, kind: str) -> tuple[Path, dict[str, Any]]:
    folder = agent_dir(path)
    file = folder / AGENT_FILE
    if not file.exists():
        raise AignError(
            f"{folder}: no {AGENT_FILE}; is this the --out folder of aign train {kind}?"
        )
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AignError(f"{file}: unreadable ({exc})") from None
    if meta.get("kind") != kind:
        raise AignError(f"{folder} holds a {meta.get('kind')!r} agent, not {kind!r}")
    return folder, meta


def load_agent(kind: str, path: str | Path) -> LoadedAgent:
    """Load a trained SAC or BCQ agent for acting."""
    if kind == "sac":
        from agents.sac import load_sac

        return load_sac(path)
    if kind == "bcq":
        from agents.bcq import load_bcq

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
