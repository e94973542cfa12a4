"""Controllers: one protocol for baselines, exact references, RL agents and the planner."""

from twin.controllers.base import Controller, Observation
from twin.controllers.registry import (
    available_controllers,
    check_controller_spec,
    make_controller,
)
from twin.controllers.solver_controller import SolverController

__all__ = [
    "Controller",
    "Observation",
    "SolverController",
    "available_controllers",
    "check_controller_spec",
    "make_controller",
]
