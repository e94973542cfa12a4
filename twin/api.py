"""What the CLI and the UI call: whole operations on scenarios, instances and designs."""

from __future__ import annotations

import os
from typing import Any

from twin.controllers.registry import check_controller_spec
from twin.core.errors import AignError, Problem
from twin.radio.instance import ProblemInstance, load_designs
from twin.scenario.loader import ScenarioLike, as_scenario, field_line
from twin.scenario.schema import Scenario
from twin.sim.run import SimulationResult, simulate, snapshot_instance

__all__ = [
    "ScenarioLike",
    "SimulationResult",
    "as_scenario",
    "evaluate_designs",
    "scenario_problems",
    "simulate",
    "snapshot_instance",
]


def evaluate_designs(
    instance_path: str | os.PathLike, design_path: str | os.PathLike
) -> dict[str, Any]:
    """Metrics of every design in a file on an instance; refuses designs that do not fit."""
    instance = ProblemInstance.load(instance_path)
    results = []
    for design in load_designs(design_path):
        power = instance.check_power(design.power_mw, source=str(design_path))
        metrics = instance.evaluate(power)
        made_for = design.provenance.get("instance")
        results.append(
            {
                "source": design.source,
                "instance_matches": None
                if made_for is None
                else made_for == instance.fingerprint(),
                **metrics.to_dict(),
            }
        )
    return {"instance": instance.fingerprint(), "designs": results}


def scenario_problems(
    scenario: Scenario, text: str | None = None, source: str = "<scenario>"
) -> list[Problem]:
    """What the schema cannot check on its own: names resolved when the scenario runs (the
    controller spec). Located in ``text`` (the scenario's YAML) when given, as the loader
    locates its problems; ``aign scenario check`` and the app's editor both call this."""
    problems = []
    try:
        check_controller_spec(scenario.control.controller)
    except AignError as err:
        line = field_line(text, "control.controller") if text else None
        problems.append(Problem(source, line, "control.controller", str(err)))
    return problems
