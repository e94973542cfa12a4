"""The digital twin of an uplink cellular network, in layers (each imports only those below).

======================  ===================================================================
``twin.api``            whole operations for the CLI and the app (simulate, snapshot, ...)
``twin.rollout``        validate on the twin, calibrate it, deploy, observe, roll back, log
``twin.compute``        where work runs (local processes, Ray) and parameter sweeps
``twin.sim``            the SimPy twin, the physical layer it mirrors, KPIs
``twin.controllers``    one protocol for baselines, references, RL agents and the planner
``twin.solvers``        exact references, coordinate ascent, WMMSE, baselines
``twin.radio``          uplink maths, 38.901 channel, mobility, network, instances, designs
``twin.scenario``       the scenario schema, the one loader, digests
``twin.core``           errors, seeded streams, strict JSON records and files
======================  ===================================================================

The names below are importable from ``twin`` itself; they load on first use, so that
``import twin.core.errors`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AignError": "twin.core",
    "Calibration": "twin.radio",
    "Controller": "twin.controllers",
    "Design": "twin.radio",
    "Operations": "twin.rollout",
    "ProblemInstance": "twin.radio",
    "Scenario": "twin.scenario",
    "Twin": "twin.sim",
    "evaluate_designs": "twin.api",
    "load_scenario": "twin.scenario",
    "make_controller": "twin.controllers",
    "simulate": "twin.api",
    "snapshot_instance": "twin.api",
    "solve": "twin.solvers",
    "validate_design": "twin.rollout",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'twin' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
