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
from dataclasses import dataclass
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
    seconds: float  # this design's wall time

    def to_dict(self) -> dict:
        return {"method": self.method, "spec": self.spec, "case": self.case,
                "measured_seconds": self.measured_seconds,
                "measured_quality": self.measured_quality, "seconds": self.seconds}  # fmt: skip


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


def run_spec(instance: ProblemInstance, spec: str, model: str | None = None) -> Design:
    """One design from a frontier spec."""
    kind, _, args = spec.partition(":")
    if kind == "planner":
        from diffusion import default_model_dir, load_planner

        k = int(args.partition("=")[2]) if args.startswith("candidates=") else None
        planner = load_planner(model or default_model_dir(), candidates=k)
        return planner.plan(instance, recover_actions=False).best
    if kind in ("sac", "bcq"):
        from agents.controllers import load_agent, rollout
        from agents.mdp import initial_power

        agent = load_agent(kind, args)
        power = rollout(agent, instance, initial_power(instance))
        return Design.for_instance(instance, power, source=kind, agent=args)
    from twin.solvers import solve_spec

    return solve_spec(instance, spec)


def auto_design(
    instance: ProblemInstance,
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    table: dict | None = None,
    model: str | None = None,
) -> AutoChoice:
    """The design of the method best for ``instance``'s size within ``time_budget_s``."""
    table = load_frontier() if table is None else table
    entry = choose_method(table, instance.n_users, time_budget_s)
    start = time.perf_counter()
    design = run_spec(instance, entry["spec"], model)
    seconds = time.perf_counter() - start
    design.provenance.update({"generator": "auto", "auto_method": entry["method"],
                              "seconds": seconds})  # fmt: skip
    return AutoChoice(design, entry["method"], entry["spec"], entry["case"],
                      float(entry["seconds"]), float(entry["quality_mean"]), seconds)
