"""What the CLI and the UI call: whole operations on scenarios, instances and designs."""

from __future__ import annotations

import os
from typing import Any

from twin.radio.instance import ProblemInstance, load_designs
from twin.scenario.loader import ScenarioLike, as_scenario
from twin.sim.run import SimulationResult, simulate, snapshot_instance

__all__ = [
    "ScenarioLike",
    "SimulationResult",
    "as_scenario",
    "evaluate_designs",
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
