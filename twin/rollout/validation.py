"""Monte-Carlo validation of a design on the twin, before it may be deployed.

A design holds one power per scenario user. Each run simulates the network on the twin
(sync off: the twin is the network) for ``gates.window_s`` on one seed, with the design's
powers held fixed, and again with the baseline (the design in force) on the *same* seed:
fading, shadowing, mobility and activity are then identical in both runs (common random
numbers), so the paired difference measures the design, not the luck of the draw.

The work is split into :class:`SeedTask` -> :func:`run_seed` -> :class:`SeedResult`, small
picklable values, so any :mod:`twin.compute.executors` executor (local processes, Ray) can run the
seeds; the report's numbers do not depend on which one did.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.compute.executors import Executor, make_executor
from twin.controllers.base import Observation
from twin.core.errors import AignError, DesignError, Problem
from twin.core.records import design_digest, finite, mean_ci
from twin.radio.instance import Design, ProblemInstance
from twin.scenario.derive import scenario_digest, unsynced
from twin.scenario.schema import Gates, Scenario
from twin.sim.kpi import percentile_kpis
from twin.sim.physical import metrics_for
from twin.sim.twin import PHASE_RECORD, PhasedTimeout, Twin

if TYPE_CHECKING:
    from twin.radio.calibration import Calibration

VALIDATION_FORMAT = "aign.validation/1"
# A clock time counts as "at or after" a switch time within this tolerance (float drift of
# accumulated steps).
TIME_ATOL_S = 1e-9


def check_design(scenario: Scenario, design: Design, source: str = "design") -> np.ndarray:
    """The design's power vector for ``scenario``, or :class:`DesignError` with every reason.

    A design for another scenario (by name or digest in its provenance), with another user
    count, or with powers off the scenario's levels is refused.
    """
    problems = []
    made_for = design.provenance.get("scenario")
    if made_for is not None and made_for != scenario.name:
        problems.append(
            Problem(
                source,
                None,
                "provenance.scenario",
                f"the design was made for scenario {made_for!r}, not {scenario.name!r}",
            )
        )
    made_digest = design.provenance.get("scenario_digest")
    if made_digest is not None and made_digest != scenario_digest(scenario):
        problems.append(
            Problem(
                source,
                None,
                "provenance.scenario_digest",
                f"the design was made for another version of scenario {scenario.name!r} "
                f"(digest {made_digest}, now {scenario_digest(scenario)})",
            )
        )
    user_ids = design.provenance.get("user_ids")
    n = scenario.users.n
    if isinstance(user_ids, list) and len(user_ids) != n and design.power_mw.size != n:
        problems.append(
            Problem(
                source,
                None,
                "provenance.user_ids",
                f"the design covers {len(user_ids)} of the scenario's {n} users (an "
                "instance snapshot with idle users); a deployable design has one power "
                "per scenario user",
            )
        )
    try:
        power = _levels_check(scenario).check_power(design.power_mw, source=source)
    except DesignError as err:
        power = None
        problems.extend(
            Problem(p.source, p.line, p.path, p.message.replace("the instance", "the scenario"))
            for p in err.problems
        )
    if problems:
        raise DesignError(problems)
    assert power is not None
    return power


def _levels_check(scenario: Scenario) -> ProblemInstance:
    """An instance with the scenario's users and levels: :meth:`ProblemInstance.check_power`
    is the one rule for "one allowed level per user", and needs nothing else."""
    n = scenario.users.n
    return ProblemInstance(
        gains=np.ones((n, 1)),
        assoc=np.zeros(n, dtype=np.intp),
        noise_mw=1.0,
        bandwidth_hz=1.0,
        levels_mw=np.asarray(scenario.power.levels()),
        price=0.0,
    )


# --------------------------------------------------------------------------- one run
class PowerSchedule:
    """A controller that holds full power vectors (one power per scenario user) fixed.

    ``schedule`` is ``[(from_s, power_mw), ...]`` in increasing time; at a decision epoch the
    last entry whose ``from_s`` has come is in force. One entry holds a design; two model a
    reconfiguration at a known instant (the observation after a deployment).
    """

    name = "hold"

    def __init__(self, schedule: Sequence[tuple[float, np.ndarray]]):
        self.schedule = [(float(t), np.asarray(p, dtype=float)) for t, p in schedule]
        times = [t for t, _ in self.schedule]
        if not times or times != sorted(times):
            raise ValueError("schedule must be a non-empty list of (time, powers), by time")

    def reset(self, instance: ProblemInstance) -> None:
        pass

    def power_at(self, time_s: float) -> np.ndarray:
        current = self.schedule[0][1]
        for from_s, power in self.schedule:
            if time_s + TIME_ATOL_S >= from_s:
                current = power
        return current

    def decide(self, observation: Observation) -> np.ndarray:
        users = np.asarray(observation.instance.meta["user_ids"], dtype=np.intp)
        return self.power_at(observation.time_s)[users]


@dataclass(frozen=True)
class RunKpis:
    """What one run of one power vector achieved, averaged over the window's ticks."""

    utility: float
    rate_p5_bps: float
    feasible: float  # fraction of ticks with every constraint holding
    constraints: dict[str, float]  # fraction of ticks each imposed constraint holds
    sinr_db: tuple[float | None, ...]  # per scenario user: mean SINR (dB) over its active ticks
    ticks: int


@dataclass(frozen=True)
class SeedTask:
    """One seed of a validation: the design and the baseline on the same randomness."""

    scenario: Scenario
    design_mw: tuple[float, ...]
    baseline_mw: tuple[float, ...]
    seed: int
    window_s: float
    calibration: Calibration | None = None  # the twin's channel fitted to reports


@dataclass(frozen=True)
class SeedResult:
    seed: int
    design: RunKpis
    baseline: RunKpis


class TickAverager:
    """Accumulates per-tick radio metrics over the users present into a :class:`RunKpis`."""

    def __init__(self, scenario: Scenario, constraint_names: Sequence[str]):
        self.scenario = scenario
        self.names = tuple(constraint_names)
        n = scenario.users.n
        self.utility: list[float] = []
        self.rate_p5: list[float] = []
        self.feasible: list[float] = []
        self.holds = {name: [] for name in self.names}
        self._sinr_db_sum = np.zeros(n)
        self._sinr_count = np.zeros(n)

    def add(self, gains, assoc, power_mw, active, noise_mw, constraints) -> None:
        metrics, users = metrics_for(
            gains, assoc, power_mw, active, self.scenario, noise_mw, constraints
        )
        self.utility.append(metrics.utility)
        self.rate_p5.append(
            percentile_kpis(metrics, self.scenario.channel.bandwidth_hz)["rate_bps_p5"]
        )
        self.feasible.append(float(metrics.feasible))
        for name in self.names:
            self.holds[name].append(float(metrics.violations.get(name, 0.0) == 0.0))
        with np.errstate(divide="ignore"):
            sinr_db = 10.0 * np.log10(metrics.sinr)
        ok = np.isfinite(sinr_db)
        np.add.at(self._sinr_db_sum, users[ok], sinr_db[ok])
        np.add.at(self._sinr_count, users[ok], 1.0)

    def __len__(self) -> int:
        return len(self.utility)

    def result(self) -> RunKpis:
        def mean(values: list[float]) -> float:
            finite = [v for v in values if math.isfinite(v)]
            return float(np.mean(finite)) if finite else math.nan

        counted = self._sinr_count > 0
        sinr = np.divide(self._sinr_db_sum, np.where(counted, self._sinr_count, 1.0))
        return RunKpis(
            utility=mean(self.utility),
            rate_p5_bps=mean(self.rate_p5),
            feasible=mean(self.feasible),
            constraints={name: mean(v) for name, v in self.holds.items()},
            sinr_db=tuple(float(s) if c else None for s, c in zip(sinr, counted, strict=True)),
            ticks=len(self.utility),
        )


def simulate_held(
    scenario: Scenario,
    power_mw: np.ndarray,
    seed: int,
    window_s: float,
    calibration: Calibration | None = None,
) -> RunKpis:
    """Run the twin (sync off) for ``window_s`` with ``power_mw`` held; KPIs per tick."""
    scenario = unsynced(scenario)
    twin = Twin(
        scenario, controller=PowerSchedule([(0.0, power_mw)]), seed=seed, calibration=calibration
    )
    averager = TickAverager(scenario, twin.constraints.active())

    def probe() -> Generator:
        # Same instants and phase as the twin's own KPI record: after that tick's decision.
        next_us = 0
        while True:
            yield PhasedTimeout(twin.env, next_us - twin.env.now, PHASE_RECORD)
            gains, assoc, _, active = twin.estimate()
            averager.add(gains, assoc, twin.power_mw, active, twin.noise_mw, twin.constraints)
            next_us += twin.step_us

    twin.env.process(probe())
    twin.run(until_s=window_s)
    return averager.result()


def run_seed(task: SeedTask) -> SeedResult:
    """Design and baseline on one seed (the unit of work an executor distributes)."""
    design = simulate_held(
        task.scenario, np.asarray(task.design_mw), task.seed, task.window_s, task.calibration
    )
    if task.baseline_mw == task.design_mw:
        baseline = design
    else:
        baseline = simulate_held(
            task.scenario, np.asarray(task.baseline_mw), task.seed, task.window_s, task.calibration
        )
    return SeedResult(task.seed, design, baseline)


# --------------------------------------------------------------------------- statistics
def _probability(values: Sequence[float]) -> dict[str, Any]:
    """A probability estimated by per-run fractions: ticks within a run are correlated, so
    the interval is over runs (clipped to [0, 1])."""
    out = mean_ci(values)
    out["ci95"] = [None if v is None else min(1.0, max(0.0, v)) for v in out["ci95"]]
    return out


def _mean_sinr_db(runs: Sequence[RunKpis]) -> list[float | None]:
    per_user = np.array([[np.nan if s is None else s for s in r.sinr_db] for r in runs])
    with np.errstate(invalid="ignore"):
        counted = np.isfinite(per_user).sum(axis=0)
        mean = np.nansum(per_user, axis=0) / np.maximum(counted, 1)
    return [float(m) if c else None for m, c in zip(mean, counted, strict=True)]


# --------------------------------------------------------------------------- validation
def validate_design(
    scenario: Scenario,
    design: Design,
    baseline_mw: np.ndarray,
    *,
    baseline_source: str = "in force",
    runs: int | None = None,
    seed: int | None = None,
    executor: str | Executor | None = None,
    progress: Callable[[float], None] | None = None,
    now: datetime | None = None,
    calibration: Calibration | None = None,
) -> dict[str, Any]:
    """Validate ``design`` against ``baseline_mw`` on the twin; the report as JSON data.

    Runs ``r = 0 .. runs-1`` use seeds ``seed + r`` (default ``scenario.seed``). The report
    holds the design's mean utility with its 95% interval, the paired improvement over the
    baseline, the probability that each constraint holds, the 5th-percentile user rate and
    the verdict against ``scenario.gates`` (see docs/deployment.md for every field).
    With ``calibration`` the twin's channel is the one fitted to channel reports, and the
    report cites it (``calibration``: its digest and fit).
    """
    gates = scenario.gates
    runs = gates.runs if runs is None else int(runs)
    if runs < 2:
        raise AignError(f"--runs must be at least 2 (a confidence interval needs 2), got {runs}")
    seed = scenario.seed if seed is None else int(seed)
    if seed < 0:
        raise AignError(f"--seed must be >= 0, got {seed}")
    power = check_design(scenario, design)
    baseline = check_design(
        scenario, Design(np.asarray(baseline_mw), baseline_source), source="baseline"
    )
    if calibration is not None:
        from twin.radio.calibration import check_calibration

        check_calibration(scenario, calibration)
    runner = make_executor(executor)
    tasks = [
        SeedTask(
            scenario,
            tuple(power.tolist()),
            tuple(baseline.tolist()),
            seed + r,
            gates.window_s,
            calibration,
        )
        for r in range(runs)
    ]
    try:
        results: list[SeedResult] = runner.map(run_seed, tasks, progress)
    finally:
        if runner is not executor:  # made here from a name: release its workers
            runner.close()

    digest = scenario_digest(scenario)
    design_u = [r.design.utility for r in results]
    base_u = [r.baseline.utility for r in results]
    diffs = [d - b for d, b in zip(design_u, base_u, strict=True)]
    constraints = {
        name: _probability([r.design.constraints[name] for r in results])
        for name in (results[0].design.constraints if results else {})
    }
    finite_u = [u for u in design_u if math.isfinite(u)]
    report: dict[str, Any] = {
        "format": VALIDATION_FORMAT,
        "created_at": (now or datetime.now(UTC)).isoformat(timespec="milliseconds"),
        "scenario": {"name": scenario.name, "digest": digest, "users": scenario.users.n},
        "design": {
            "digest": design_digest(digest, power),
            "source": design.source,
            "power_mw": power.tolist(),
        },
        "baseline": {
            "digest": design_digest(digest, baseline),
            "source": baseline_source,
            "power_mw": baseline.tolist(),
        },
        "executor": runner.name,
        "runs": runs,
        "seeds": [t.seed for t in tasks],
        "window_s": gates.window_s,
        "utility": {
            **mean_ci(design_u),
            "p5_of_runs": float(np.percentile(finite_u, 5)) if finite_u else None,
            "per_run": design_u,
        },
        "baseline_utility": {**mean_ci(base_u), "per_run": base_u},
        "improvement": {**mean_ci(diffs), "paired": True},
        "constraints": constraints,
        "feasible": _probability([r.design.feasible for r in results]),
        "rate_p5_bps": mean_ci([r.design.rate_p5_bps for r in results]),
        "sinr_db_mean": _mean_sinr_db([r.design for r in results]),
        "gates": gates.model_dump(mode="json"),
    }
    if calibration is not None:
        report["calibration"] = calibration.summary()
    report["verdict"] = judge(report, gates)
    return finite(report)


def judge(report: dict[str, Any], gates: Gates) -> dict[str, Any]:
    """The verdict: every gate with what it requires, what was measured, and whether it held."""
    checks = []

    def check(gate: str, required: float, measured: float | None, what: str) -> None:
        passed = measured is not None and measured >= required
        shown = "nothing" if measured is None else f"{measured:.6g}"
        checks.append(
            {
                "gate": gate,
                "required": required,
                "measured": measured,
                "passed": passed,
                "message": f"{what}: {shown} {'>=' if passed else 'is below'} {required:g}",
            }
        )

    check("min_runs", gates.min_runs, report["runs"], "Monte-Carlo runs")
    check(
        "min_improvement",
        gates.min_improvement,
        report["improvement"]["ci95"][0],
        "lower 95% bound of the utility improvement over the design in force",
    )
    for name, prob in report["constraints"].items():
        check(
            "min_constraint_satisfaction",
            gates.min_constraint_satisfaction,
            prob["mean"],
            f"probability that constraint {name} holds",
        )
    if gates.min_rate_p5_bps is not None:
        check(
            "min_rate_p5_bps",
            gates.min_rate_p5_bps,
            report["rate_p5_bps"]["mean"],
            "mean 5th-percentile user rate, bit/s",
        )
    failed = [c["message"] for c in checks if not c["passed"]]
    return {"passed": not failed, "checks": checks, "failed": failed}

