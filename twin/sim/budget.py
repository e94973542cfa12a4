"""Plausibility before work: what a twin run of a scenario will cost, refused beforehand when
it cannot run here.

A valid scenario can still ask for more than a machine has: 100,000 users x 10,000 BSs is
10^9 links (hundreds of GB per network), a report every millisecond for an hour is 10^7
events.
:func:`estimate_cost` counts what :class:`twin.sim.twin.Twin` will hold and do (links, the
shadowing grids, events, link updates, the KPI rows) from the scenario alone, and
:func:`check_budget` refuses, with the numbers and the limit, what exceeds the
:class:`Budget` *before* anything is built. The coefficients are upper estimates measured on
the twin (benchmarks/RESULTS.md, section 1 and "Memory per 1000 users": about 200 bytes per
link held with the sum-of-sinusoids fading, about 225 at the peak of a 10,000 x 100 build;
300 here, per network), 2 kB per recorded step (a KPI row measures about 425 B).

The budget is the machine's: memory is half the physical memory unless
``AIGN_MAX_MEMORY_MB`` says otherwise; ``AIGN_MAX_EVENTS`` (default 2,000,000: the default
scenario's 1,530 events take about 2 s here, so about 45 minutes) and
``AIGN_MAX_LINK_UPDATES`` (default 2e11) bound the work of one run (a whole run, or each
``Twin.run`` call: a benchmark that runs the twin in chunks is checked chunk by chunk).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from twin.core.errors import AignError, TooLargeError
from twin.radio.shadowing import (
    DEFAULT_SPACING_FRACTION,
    MAX_FIELD_POINTS,
    MAX_SHADOWING_POINTS,
    decorrelation_pair_m,
)
from twin.scenario.schema import Scenario

BYTES_PER_LINK = 300  # peak while a network is built (fading phasors, losses, gains)
BYTES_PER_STEP = 2_000  # one KPI row (about 40 floats in Python lists)
EVENTS_PER_REPORT = 3  # measure, the delivery process, its timeout
DEFAULT_MAX_EVENTS = 2_000_000
DEFAULT_MAX_LINK_UPDATES = 2e11
MEMORY_ENV, EVENTS_ENV, WORK_ENV = "AIGN_MAX_MEMORY_MB", "AIGN_MAX_EVENTS", "AIGN_MAX_LINK_UPDATES"


@dataclass(frozen=True)
class Budget:
    """What one twin run may use: bytes held at once, simulation events, link updates."""

    memory_bytes: float
    events: float = DEFAULT_MAX_EVENTS
    link_updates: float = DEFAULT_MAX_LINK_UPDATES

    @classmethod
    def from_env(cls) -> Budget:
        """Half the physical memory, the default work limits, or the environment's."""
        return cls(
            memory_bytes=_env(MEMORY_ENV, None, 2**20) or _half_memory(),
            events=_env(EVENTS_ENV, DEFAULT_MAX_EVENTS),
            link_updates=_env(WORK_ENV, DEFAULT_MAX_LINK_UPDATES),
        )


def _half_memory() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def _env(name: str, default: float | None, unit: float = 1.0) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise AignError(f"{name} must be a positive number, got {text!r}")
    return value * unit


@dataclass(frozen=True)
class Cost:
    """What a run of ``horizon_s`` simulated seconds will hold and do (upper estimates)."""

    users: int
    base_stations: int
    networks: int  # 2 with sync (the twin's and the physical layer's), else 1
    horizon_s: float
    steps: float
    reports: float
    epochs: float
    activity_changes: float
    shadowing_points: float
    memory_bytes: float
    events: float
    link_updates: float

    @property
    def links(self) -> int:
        return self.users * self.base_stations


def estimate_cost(scenario: Scenario, horizon_s: float | None = None) -> Cost:
    """Count what a twin run of ``scenario`` up to ``horizon_s`` (default: its duration) holds
    and does, from the scenario alone (nothing is built)."""
    horizon = scenario.duration_s if horizon_s is None else max(0.0, float(horizon_s))
    users, n_bs = scenario.users.n, scenario.base_stations.n
    networks = 2 if scenario.sync.enabled else 1
    steps = horizon / scenario.step_s
    reports = horizon / scenario.sync.report_period_s if scenario.sync.enabled else 0.0
    epochs = horizon / scenario.control.epoch_s + 1
    activity = scenario.users.activity
    changes = 0.0
    if activity is not None:
        changes = users * horizon / min(activity.mean_active_s, activity.mean_idle_s)
    grid = 0.0
    if scenario.channel.mode == "model" and scenario.channel.shadowing.enabled:
        pair = decorrelation_pair_m(scenario.channel.path_loss.model,
                                    scenario.channel.shadowing.decorrelation_m)  # fmt: skip
        spacing = min(pair) * DEFAULT_SPACING_FRACTION
        nx = scenario.area.width_m / spacing + 1
        ny = scenario.area.height_m / spacing + 1
        fields = 1 if pair[0] == pair[1] else 2  # LOS and NLOS fields share the cap
        grid = min(fields * min(nx * ny, MAX_FIELD_POINTS) * n_bs, MAX_SHADOWING_POINTS)
    links = users * n_bs
    memory = (
        networks * (links * BYTES_PER_LINK + grid * 4 * 3)  # fields + the FFT's temporaries
        + (steps + 1) * BYTES_PER_STEP
        + epochs * users * 8  # the powers recorded at each decision
    )
    events = 2 * steps + EVENTS_PER_REPORT * reports + epochs + changes
    updates = (networks * steps + reports) * links
    return Cost(users, n_bs, networks, horizon, steps, reports, epochs, changes, grid, memory,
                events, updates)  # fmt: skip


def check_budget(
    scenario: Scenario, horizon_s: float | None = None, budget: Budget | None = None
) -> Cost:
    """Refuse, before any work, a run that would exceed ``budget`` (default: this machine's),
    saying what it would take, the limit, and what to change."""
    budget = budget or Budget.from_env()
    cost = estimate_cost(scenario, horizon_s)
    over = []
    if cost.memory_bytes > budget.memory_bytes:
        over.append(
            f"about {_bytes(cost.memory_bytes)} of memory ({cost.users:,} users x "
            f"{cost.base_stations:,} BSs = {cost.links:,} links x {cost.networks} network(s), "
            f"{cost.steps:,.0f} recorded steps), above the limit of "
            f"{_bytes(budget.memory_bytes)} ({MEMORY_ENV})"
        )
    if cost.events > budget.events:
        over.append(
            f"{cost.events:,.0f} simulation events ({cost.steps:,.0f} steps of {scenario.step_s:g}"
            f" s, {cost.reports:,.0f} channel reports every {scenario.sync.report_period_s:g} "
            f"s, {cost.activity_changes:,.0f} activity changes over {cost.horizon_s:g} s), "
            f"above the limit of {budget.events:,.0f} ({EVENTS_ENV})"
        )
    if cost.link_updates > budget.link_updates:
        over.append(
            f"{cost.link_updates:.3g} link updates ({cost.links:,} links x "
            f"{cost.steps + cost.reports:,.0f} steps and reports), above the limit of "
            f"{budget.link_updates:.3g} ({WORK_ENV})"
        )
    if over:
        raise TooLargeError(
            f"scenario {scenario.name!r} cannot run here: it needs {'; and '.join(over)}. "
            "Lower the user or BS count or duration_s, or raise step_s, "
            "sync.report_period_s or control.epoch_s. Nothing was started."
        )
    return cost


def _bytes(n: float) -> str:
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 1024:.3g} kB"
