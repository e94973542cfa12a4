"""Solver-backed controllers: every baseline and exact reference behind the one protocol.

A :class:`SolverController` re-solves the twin's current instance at every decision epoch.
``fixed``, ``max``, ``random`` and ``fpc`` are solver-backed too, so there is one way to
turn a method into a controller.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.controllers.base import Observation
from twin.core.errors import AignError
from twin.radio.instance import ProblemInstance
from twin.solvers.registry import SOLVERS, check_solvable, validate_params

# Methods whose ``seed`` must give a fresh draw at every decision (a random controller that
# repeated its first vector would be a fixed one). Others keep their seed: the same
# instance then gets the same answer.
FRESH_DRAW_METHODS = frozenset({"random"})


class SolverController:
    """Runs solver ``method`` on ``observation.instance`` at every ``decide``.

    Coordinate ascent warm-starts from the powers now in force, so a slowly changing channel
    costs few sweeps. ``random`` draws from a stream of ``(seed, decision number)``, restarted
    by ``reset``, so a run is reproducible.
    """

    def __init__(self, method: str, **params: Any) -> None:
        self.method = method
        self.params = validate_params(method, params)
        for key, value in self.params.items():
            if not isinstance(value, int | float):
                raise AignError(
                    f"{method}: {key} cannot be set on a controller (it comes from the "
                    "observation at each decision)"
                )
        self.name = controller_name(method, self.params)
        self._decisions = 0

    def reset(self, instance: ProblemInstance) -> None:
        """Refuse now what the solver would refuse on this instance (level, size)."""
        check_solvable(instance, self.method, self.params)
        self._decisions = 0

    def decide(self, observation: Observation) -> np.ndarray:
        params = dict(self.params)
        if self.method == "coordinate":
            params["init"] = observation.power_mw
        if self.method in FRESH_DRAW_METHODS:
            sequence = np.random.SeedSequence([params.get("seed", 0), self._decisions])
            params["seed"] = int(sequence.generate_state(1, dtype=np.uint64)[0] >> 1)
        self._decisions += 1
        return SOLVERS[self.method](observation.instance, **params)

    def __repr__(self) -> str:
        return f"SolverController({self.name!r})"


def controller_name(method: str, params: dict[str, Any]) -> str:
    """The spec that rebuilds this controller: ``"coordinate:starts=8"``, ``"fixed:10"``."""
    if method == "fixed":
        return f"fixed:{params['level_mw']:g}"
    if not params:
        return method
    return f"{method}:" + ",".join(f"{k}={v:g}" for k, v in params.items())
