"""Observing a deployed design on the network: realized KPIs from fresh channel reports,
and the keep-or-roll-back verdict against the validation that let it through.

Split out of :mod:`twin.rollout.deployment`, which calls it after every configuration change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from twin.core.records import finite, mean_ci
from twin.rollout.validation import TIME_ATOL_S, PowerSchedule, TickAverager
from twin.scenario.schema import Gates, Scenario
from twin.sim.twin import PHASE_RECORD, PhasedTimeout, Twin, to_us

# Realized and floor utilities equal to this relative tolerance count as equal (round-off).
UTILITY_RTOL = 1e-9


@dataclass(frozen=True)
class Realized:
    """KPIs measured after a configuration change, from the channel reports that arrived.

    Only reports *measured after* the new design took effect count (``fresh_reports``); one
    measured before it and delivered after (``stale_reports``) describes the old design.
    """

    window_s: float
    applied_at_s: float
    reports_sent: int
    reports_dropped: int
    reports_delivered: int
    reports_in_flight: int
    fresh_reports: int
    stale_reports: int
    utility: dict[str, Any]
    rate_p5_bps: float | None
    feasible: float | None
    constraints: dict[str, float | None]
    sinr_db_mean: list[float | None]

    def to_dict(self) -> dict[str, Any]:
        return finite(asdict(self))


def observation_seed(scenario: Scenario, operation: int) -> int:
    """The world's randomness in the observation of operation ``operation`` (reproducible)."""
    sequence = np.random.SeedSequence([scenario.seed, 0x6F6273, int(operation)])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> 1)


def observe(
    scenario: Scenario,
    before_mw: np.ndarray,
    after_mw: np.ndarray,
    seed: int,
    window_s: float | None = None,
) -> Realized:
    """Simulate the network (the physical layer, reports through the sync hook) running
    ``before_mw``, switching to ``after_mw`` at a decision epoch, and measure the new design
    over ``window_s`` (default ``gates.window_s``) from the channel reports that arrive.

    The switch comes at the first decision epoch at least one report period in, so reports
    measured under the old design can still be in flight (as they are on a real network).
    """
    window_s = scenario.gates.window_s if window_s is None else window_s
    if not scenario.sync.enabled:  # the network is the physical layer, whatever the twin does
        scenario = scenario.model_copy(
            update={"sync": scenario.sync.model_copy(update={"enabled": True})}
        )
    epoch_s, period_s = scenario.control.epoch_s, scenario.sync.report_period_s
    apply_at_s = math.ceil(period_s / epoch_s - 1e-9) * epoch_s
    controller = PowerSchedule([(0.0, before_mw), (apply_at_s, after_mw)])
    twin = Twin(scenario, controller=controller, seed=seed)
    averager = TickAverager(scenario, twin.constraints.active())
    counts = {"fresh": 0, "stale": 0}
    after = np.asarray(after_mw, dtype=float)

    def probe():
        next_us = to_us(apply_at_s)
        yield PhasedTimeout(twin.env, next_us - twin.env.now, PHASE_RECORD)
        last_measured = twin.sync.estimate_measured_at_s  # what the twin knew at the switch
        while True:
            next_us += twin.step_us
            yield PhasedTimeout(twin.env, next_us - twin.env.now, PHASE_RECORD)
            measured = twin.sync.estimate_measured_at_s
            if measured == last_measured:
                continue
            last_measured = measured
            if measured <= apply_at_s + TIME_ATOL_S:
                counts["stale"] += 1
                continue
            counts["fresh"] += 1
            gains, assoc, _, active = twin.estimate()
            averager.add(gains, assoc, after, active, twin.noise_mw, twin.constraints)

    twin.env.process(probe())
    twin.run(until_s=apply_at_s + window_s)
    kpis = averager.result() if len(averager) else None
    sync = twin.sync
    return Realized(
        window_s=window_s,
        applied_at_s=apply_at_s,
        reports_sent=sync.reports_sent,
        reports_dropped=sync.reports_dropped,
        reports_delivered=sync.reports_delivered,
        reports_in_flight=sync.reports_sent - sync.reports_dropped - sync.reports_delivered,
        fresh_reports=counts["fresh"],
        stale_reports=counts["stale"],
        utility=mean_ci(averager.utility),
        rate_p5_bps=None if kpis is None else kpis.rate_p5_bps,
        feasible=None if kpis is None else kpis.feasible,
        constraints={} if kpis is None else dict(kpis.constraints),
        sinr_db_mean=[None] * scenario.users.n if kpis is None else list(kpis.sinr_db),
    )


# (scenario, powers before, powers after, seed) -> what the network realized after the switch
Observer = Callable[[Scenario, np.ndarray, np.ndarray, int], Realized]


@dataclass(frozen=True)
class ObservationVerdict:
    keep: bool
    floor: float | None
    reason: str


def judge_observation(
    realized: Realized, report: dict[str, Any], gates: Gates
) -> ObservationVerdict:
    """Keep the design if enough fresh reports show its utility at or above the floor: the
    validated mean minus ``gates.realized_utility_tolerance``, or by default the 5th
    percentile of the validation runs' means."""
    predicted = report["utility"]
    if gates.realized_utility_tolerance is not None:
        floor = predicted["mean"] - gates.realized_utility_tolerance
        floor_text = (
            f"validated mean {predicted['mean']:.6g} - tolerance "
            f"{gates.realized_utility_tolerance:g}"
        )
    else:
        floor = predicted["p5_of_runs"]
        floor_text = "5th percentile of the validation runs"
    if realized.fresh_reports < gates.min_fresh_reports:
        return ObservationVerdict(
            False,
            floor,
            f"only {realized.fresh_reports} channel reports measured after the design took "
            f"effect arrived in the {realized.window_s:g} s window (gates.min_fresh_reports: "
            f"{gates.min_fresh_reports}; sent {realized.reports_sent}, dropped "
            f"{realized.reports_dropped}, measured before the switch {realized.stale_reports}, "
            f"still in flight {realized.reports_in_flight}): the design cannot be judged",
        )
    utility = realized.utility["mean"]
    if floor is None or utility is None:
        return ObservationVerdict(False, floor, "no realized utility or no floor to judge by")
    if utility < floor - UTILITY_RTOL * max(1.0, abs(floor)):
        return ObservationVerdict(
            False,
            floor,
            f"realized mean utility {utility:.6g} is below the floor {floor:.6g} ({floor_text})",
        )
    return ObservationVerdict(
        True, floor, f"realized mean utility {utility:.6g} >= floor {floor:.6g} ({floor_text})"
    )


def sinr_rmse_db(predicted: list[float | None], realized: list[float | None]) -> float | None:
    """RMS difference (dB) of predicted and realized mean SINR over users with both."""
    pairs = [
        (p, r) for p, r in zip(predicted, realized, strict=False) if p is not None and r is not None
    ]
    if not pairs:
        return None
    return float(math.sqrt(sum((p - r) ** 2 for p, r in pairs) / len(pairs)))
