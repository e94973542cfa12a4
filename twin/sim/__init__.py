"""The SimPy twin: decision epochs, channel reports, mobility and activity on one clock."""

from twin.sim.kpi import KpiLog
from twin.sim.physical import ChannelReport, PhysicalLayer
from twin.sim.run import SimulationResult, simulate, snapshot_instance
from twin.sim.twin import Twin

__all__ = [
    "ChannelReport",
    "KpiLog",
    "PhysicalLayer",
    "SimulationResult",
    "Twin",
    "simulate",
    "snapshot_instance",
]
