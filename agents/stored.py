"""Trained agents on disk: the folder format every agent kind shares, read safely.

An agent folder holds ``agent.json`` (kind, MDP config, network settings, where it came
from) and the weights: ``policy.safetensors`` for SAC, ``model.pt`` (a state dict loaded
with ``torch.load(..., weights_only=True)``) for BCQ. Nothing is unpickled: SB3's own
``model.zip`` is written too, for resuming training, but never read here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.mdp import MDPConfig
from agents.peruser import USER_FEATURES, UserMDPConfig
from twin.core import AignError, read_json

AGENT_FILE = "agent.json"


@dataclass
class LoadedAgent:
    """A policy ready to act: ``predict`` maps a batch of observations to actions."""

    kind: str
    path: Path
    config: MDPConfig | UserMDPConfig
    predict: Callable[[np.ndarray], np.ndarray]
    meta: dict[str, Any]

    @property
    def per_user(self) -> bool:
        """Whether the policy acts per user (any user count) or jointly (padded)."""
        return isinstance(self.config, UserMDPConfig)


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
    meta = read_json(file, AignError, what="agent description")
    if not isinstance(meta, dict):
        raise AignError(f"{file}: not an agent description (expected a JSON object)")
    if meta.get("kind") != kind:
        raise AignError(f"{folder} holds a {meta.get('kind')!r} agent, not {kind!r}")
    return folder, meta


def agent_config(folder: Path, meta: dict[str, Any]) -> MDPConfig | UserMDPConfig:
    """The MDP an agent was trained on; a per-user agent must observe what aign computes."""
    try:
        if meta.get("formulation", "joint") == "joint":
            return MDPConfig(**meta["mdp"])
        config = UserMDPConfig.from_dict(meta["mdp"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AignError(f"{folder}/{AGENT_FILE}: malformed MDP settings ({exc})") from None
    if list(meta.get("features", [])) != list(USER_FEATURES):
        raise AignError(
            f"{folder}: the agent observes features {meta.get('features')}, this aign computes "
            f"{list(USER_FEATURES)}; retrain it with this aign"
        )
    return config
