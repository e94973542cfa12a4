"""The one controller protocol: baselines, exact references, RL agents and the diffusion
planner all implement it, so the twin, the benchmarks and the UI treat them alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from twin.radio.instance import ProblemInstance


@dataclass(frozen=True)
class Observation:
    """What a controller sees at a decision epoch.

    ``instance`` is the twin's current estimate restricted to active users (channel estimate,
    association, noise, levels, price, constraints); ``power_mw`` the powers now in force for
    those users; ``staleness_s`` the age of the channel estimate.
    """

    time_s: float
    instance: ProblemInstance
    power_mw: np.ndarray
    staleness_s: float = 0.0


@runtime_checkable
class Controller(Protocol):
    """``reset`` once per run or instance, then ``decide`` at every decision epoch.

    ``decide`` returns one power per user of ``observation.instance``, each an allowed level.
    """

    name: str

    def reset(self, instance: ProblemInstance) -> None: ...

    def decide(self, observation: Observation) -> np.ndarray: ...
