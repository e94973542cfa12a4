"""The ``auto`` generator: for an instance and a time budget, run the method the Pareto
benchmark found best for the instance's size.

The table is ``frontier.json`` from ``aign benchmark pareto`` (the shipped one:
``benchmarks/results/pareto/frontier.json``, measured on the machine recorded in it).
:func:`evaluation.pareto.choose_method` picks the frontier entry; :func:`auto_design` runs
its spec (``planner:candidates=K``, ``sac:DIR``, ``bcq:DIR`` or a solver spec) and returns
the design with what was chosen and why, and the design's own wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from evaluation.pareto import choose_method
from twin.core import AignError, read_json
from twin.radio import Design, ProblemInstance

SHIPPED_FRONTIER = Path(__file__).resolve().parents[1] / "benchmarks/results/pareto/frontier.json"
DEFAULT_TIME_BUDGET_S = 1.0


@dataclass
class AutoChoice:
    """What ``auto`` ran, and the measurement that made it choose so."""

    design: Design
    method: str  # the frontier's name, e.g. "coordinate, 2 sweeps"
    spec: str  # what was run
    case: str  # the benchmark case nearest in size
    measured_seconds: float  # its median time there
    measured_quality: float  # its mean quality there
    seconds: float  # this design's wall time (what the benchmark measured too)
    load_seconds: float = 0.0  # loading a learned method's weights first (0 when cached)

    def to_dict(self) -> dict:
        return {"method": self.method, "spec": self.spec, "case": self.case,
                "measured_seconds": self.measured_seconds,
                "measured_quality": self.measured_quality, "seconds": self.seconds,
                "load_seconds": self.load_seconds}  # fmt: skip


def load_frontier(path: str | Path | None = None) -> dict:
    """The frontier table (default: the shipped one), checked for what ``auto`` reads."""
    path = Path(path) if path is not None else SHIPPED_FRONTIER
    table = read_json(path, AignError, what="frontier table")
    cases = table.get("cases") if isinstance(table, dict) else None
    if not isinstance(cases, list) or not all(
        isinstance(c, dict) and {"users", "frontier", "off_distribution"} <= set(c) for c in cases
    ):
        raise AignError(f"{path}: not a frontier table (write one with aign benchmark pareto)")
    return table


def designer(spec: str, model: str | None = None) -> Callable[[ProblemInstance], Design]:
    """What runs a frontier spec on an instance. A learned method's weights are loaded here,
    once per process (the benchmark times the design, not the loading, and so does auto)."""
    kind, _, args = spec.partition(":")
    if kind == "planner":
        from diffusion import default_model_dir

        k = int(args.partition("=")[2]) if args.startswith("candidates=") else None
        planner = _planner(str(model or default_model_dir()), k)
        return lambda inst: planner.plan(inst, recover_actions=False).best
    if kind in ("sac", "bcq"):
        from agents.controllers import rollout
        from agents.mdp import initial_power

        agent = _agent(kind, args)
        return lambda inst: Design.for_instance(inst, rollout(agent, inst, initial_power(inst)),
                                                source=kind, agent=args)  # fmt: skip
    from twin.solvers import solve_spec

    return lambda inst: solve_spec(inst, spec)


@lru_cache(maxsize=8)
def _planner(model: str, candidates: int | None):
    from diffusion import load_planner

    return load_planner(model, candidates=candidates)


@lru_cache(maxsize=8)
def _agent(kind: str, path: str):
    from agents.controllers import load_agent

    return load_agent(kind, path)


def run_spec(instance: ProblemInstance, spec: str, model: str | None = None) -> Design:
    """One design from a frontier spec."""
    return designer(spec, model)(instance)


def auto_design(
    instance: ProblemInstance,
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    table: dict | None = None,
    model: str | None = None,
) -> AutoChoice:
    """The design of the method best for ``instance``'s size within ``time_budget_s``."""
    table = load_frontier() if table is None else table
    entry = choose_method(table, instance.n_users, time_budget_s)
    loading = time.perf_counter()
    make = designer(entry["spec"], model)
    start = time.perf_counter()
    design = make(instance)
    seconds = time.perf_counter() - start
    design.provenance.update({"generator": "auto", "auto_method": entry["method"],
                              "seconds": seconds})  # fmt: skip
    return AutoChoice(design, entry["method"], entry["spec"], entry["case"],
                      float(entry["seconds"]), float(entry["quality_mean"]), seconds,
                      start - loading)  # fmt: skip
