"""Running the twin: a whole simulation, or the problem instance at one moment."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twin.controllers.base import Controller
from twin.controllers.registry import make_controller
from twin.core.errors import AignError
from twin.radio.instance import ProblemInstance
from twin.scenario.derive import unsynced
from twin.scenario.loader import ScenarioLike, as_scenario
from twin.scenario.schema import Scenario
from twin.sim.kpi import KpiLog
from twin.sim.twin import Twin

if TYPE_CHECKING:
    from twin.radio.calibration import Calibration


@dataclass
class SimulationResult:
    """A finished twin run: its KPI log and how it was produced."""

    scenario: Scenario
    controller: str
    seed: int
    kpis: KpiLog
    sync: dict[str, int]
    calibration: str | None = None  # digest of the twin's calibration, if any

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "controller": self.controller,
            "seed": self.seed,
            "users": self.scenario.users.n,
            "base_stations": self.scenario.base_stations.n,
            "duration_s": self.scenario.duration_s,
            **self.sync,
            **({"calibration": self.calibration} if self.calibration else {}),
            **self.kpis.summary(),
        }


def simulate(
    scenario: ScenarioLike,
    controller: str | Controller | None = None,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
    calibration: Calibration | str | os.PathLike | None = None,
) -> SimulationResult:
    """Run the twin for the scenario's duration with a controller (default: the scenario's).

    With ``calibration`` (a :class:`~twin.radio.calibration.Calibration` or its JSON file) the
    twin simulates its own channel as fitted to channel reports: sync is off, since a twin
    that works on reports does not use its channel model.
    """
    scenario = as_scenario(scenario)
    if controller is None or isinstance(controller, str):
        controller = make_controller(controller or scenario.control.controller)
    if calibration is not None:
        from twin.radio.calibration import Calibration, check_calibration

        source = "" if isinstance(calibration, Calibration) else str(calibration)
        if not isinstance(calibration, Calibration):
            calibration = Calibration.load(calibration)
        check_calibration(scenario, calibration, source)
        scenario = unsynced(scenario)
    twin = Twin(scenario, controller=controller, seed=seed, calibration=calibration)
    kpis = twin.run(progress=progress)
    sync = {}
    if twin.physical is not None:
        sync = {
            "reports_sent": twin.sync.reports_sent,
            "reports_dropped": twin.sync.reports_dropped,
            "reports_delivered": twin.sync.reports_delivered,
        }
    digest = None if calibration is None else calibration.digest()
    return SimulationResult(scenario, controller.name, twin.seed, kpis, sync, digest)


def snapshot_instance(
    scenario: ScenarioLike, time_s: float = 0.0, seed: int | None = None
) -> ProblemInstance:
    """The twin's problem instance at ``time_s`` (the powers in force do not enter it)."""
    scenario = as_scenario(scenario)
    if not 0 <= time_s <= scenario.duration_s:
        raise AignError(
            f"--time {time_s:g} s is outside the scenario's [0, {scenario.duration_s:g}] s"
        )
    twin = Twin(scenario, controller=None, seed=seed)
    twin.run(until_s=time_s)
    return twin.instance()
