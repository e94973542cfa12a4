"""The SimPy twin: decision epochs, channel reports, mobility and activity on one clock."""

from twin.sim.budget import Budget, Cost, check_budget, estimate_cost
from twin.sim.kpi import KpiLog
from twin.sim.physical import ChannelReport, PhysicalLayer
from twin.sim.run import SimulationResult, simulate, snapshot_instance
from twin.sim.twin import Twin

__all__ = [
    "Budget",
    "Cost",
    "ChannelReport",
    "KpiLog",
    "PhysicalLayer",
    "SimulationResult",
    "Twin",
    "check_budget",
    "estimate_cost",
    "simulate",
    "snapshot_instance",
]
