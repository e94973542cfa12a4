"""The SimPy twin: decision epochs, channel reports, mobility and activity on one clock.

SimPy schedules the events; the radio maths runs vectorized over users and BSs in numpy.
The clock counts integer microseconds so that periodic processes of different periods line
up exactly, and every event carries a *phase* so that events at the same instant always run
in the same order: channel update, report measurement, report delivery, decision, record.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import simpy
from simpy.events import Event

from twin.controllers.base import Controller, Observation
from twin.core.seeding import stream
from twin.radio.activity import UserActivity
from twin.radio.instance import ProblemInstance
from twin.radio.network import RadioNetwork
from twin.radio.uplink import Constraints
from twin.scenario.schema import Scenario
from twin.sim.budget import check_budget
from twin.sim.kpi import KpiLog, percentile_kpis
from twin.sim.physical import ChannelReport, PhysicalLayer, metrics_for

if TYPE_CHECKING:
    from twin.radio.calibration import Calibration

US_PER_S = 1_000_000

# Phases of the events that share one instant (lower runs first). They start at 1 because
# SimPy's own ``run(until=...)`` stop event is URGENT (0): events at ``until`` do not run.
PHASE_CHANNEL = 1
PHASE_MEASURE = 2
PHASE_DELIVER = 3
PHASE_DECIDE = 4
PHASE_RECORD = 5


def to_us(seconds: float) -> int:
    """Seconds to clock ticks (integer microseconds)."""
    return int(round(seconds * US_PER_S))


class PhasedTimeout(Event):
    """A timeout that fires in a fixed phase among the events due at the same instant.

    SimPy orders simultaneous events by (priority, insertion order); passing the phase as the
    priority makes the order a property of the model, not of when each process last woke.
    """

    def __init__(self, env: simpy.Environment, delay_us: int, phase: int):
        super().__init__(env)
        self._ok = True  # triggered now, processed at now + delay (as simpy.Timeout does)
        self._value = None
        env.schedule(self, phase, delay_us)


@dataclass
class SyncStats:
    """Bookkeeping of the sync hook: what arrived, what was lost, how old the estimate is."""

    reports_sent: int = 0
    reports_dropped: int = 0
    reports_delivered: int = 0
    estimate_measured_at_s: float = 0.0


class Twin:
    """A digital twin of an uplink network, run by SimPy.

    With ``scenario.sync.enabled`` the ground truth is a :class:`PhysicalLayer` and the twin
    works on the channel reports it receives; otherwise the twin simulates the network itself
    and its estimate is exact. ``controller=None`` keeps the initial powers (no decisions).
    ``calibration`` (sync off only) replaces the scenario's path loss and shadowing in the
    twin's own channel by one fitted to channel reports (twin.radio.calibration).
    """

    def __init__(
        self,
        scenario: Scenario,
        controller: Controller | None = None,
        seed: int | None = None,
        physical: PhysicalLayer | None = None,
        calibration: Calibration | None = None,
    ):
        check_budget(scenario, horizon_s=0.0)  # what building the networks holds
        self.scenario = scenario
        self.calibration = calibration
        self.seed = scenario.seed if seed is None else int(seed)
        self.controller = controller
        self.env = simpy.Environment()
        self.step_us = to_us(scenario.step_s)
        self.constraints = Constraints(**scenario.constraints.model_dump())
        self.levels_mw = np.asarray(scenario.power.levels(), dtype=float)
        self.kpis = KpiLog()
        self.sync = SyncStats()

        if scenario.sync.enabled:
            if calibration is not None:
                raise ValueError(
                    "a calibration changes the twin's own channel model, which a twin with "
                    "sync enabled does not use (it works on the channel reports)"
                )
            self.physical = physical or PhysicalLayer(scenario, self.seed)
            self._truth_network = self.physical.network
            self._truth_activity = self.physical.activity
            self._sync_rng = stream(self.seed, "sync")
            # The twin starts in step with the network: one exact report at time zero.
            self._apply_report(self.physical.measure(0.0, self._sync_rng))
        else:
            if physical is not None:
                raise ValueError("a physical layer was given but scenario.sync.enabled is false")
            self.physical = None
            self._truth_network = RadioNetwork(
                scenario, stream(scenario.seed, "layout"), stream(self.seed, "network"),
                calibration=calibration,
            )  # fmt: skip
            self._truth_activity = UserActivity(
                scenario.users.activity, self._truth_network.n_users, stream(self.seed, "activity")
            )
        self.power_mw = np.full(self.n_users, scenario.power.initial_mw)
        if self.physical is not None:
            self.physical.apply_power(self.power_mw)

        self.env.process(self._channel_process())
        if self.physical is not None:
            self.env.process(self._report_process())
        if controller is not None:
            controller.reset(self.instance())
            self.env.process(self._decision_process())
        self.env.process(self._record_process())

    # ------------------------------------------------------------------ state
    @property
    def n_users(self) -> int:
        return self._truth_network.n_users

    @property
    def n_bs(self) -> int:
        return self._truth_network.n_bs

    @property
    def time_s(self) -> float:
        return self.env.now / US_PER_S

    @property
    def noise_mw(self) -> float:
        return self._truth_network.noise_mw

    @property
    def bs_positions(self) -> np.ndarray:
        return self._truth_network.bs_positions

    def estimate(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The twin's view: (gains, association, user positions, active mask)."""
        if self.physical is not None:
            return self._est_gains, self._est_assoc, self._est_positions, self._est_active
        net = self._truth_network
        return net.gains(), net.association(), net.positions, self._truth_activity.active

    @property
    def staleness_s(self) -> float:
        """Age of the channel estimate in use (0 when the twin simulates the network itself)."""
        if self.physical is None:
            return 0.0
        return self.time_s - self.sync.estimate_measured_at_s

    def instance(self) -> ProblemInstance:
        """Snapshot of the twin's current estimate as a :class:`ProblemInstance`.

        Only active users appear; ``meta["user_ids"]`` maps them back to the scenario's users.
        """
        gains, assoc, _, active = self.estimate()
        users = np.flatnonzero(active)
        return ProblemInstance(
            gains=gains[users],
            assoc=assoc[users],
            noise_mw=self.noise_mw,
            bandwidth_hz=self.scenario.channel.bandwidth_hz,
            levels_mw=self.levels_mw,
            price=self.scenario.objective.price_per_mw,
            constraints=self.constraints,
            reuse=self.scenario.reuse,
            meta={
                "scenario": self.scenario.name,
                "seed": self.seed,
                "time_s": self.time_s,
                "user_ids": users.tolist(),
            },
        )

    # ------------------------------------------------------------------ processes
    def _every(self, period_s: float, phase: int, first_s: float = 0.0) -> Generator:
        """Yield phased timeouts at ``first_s``, ``first_s + period_s``, ... (exact in us)."""
        period_us, next_us = to_us(period_s), to_us(first_s)
        while True:
            yield PhasedTimeout(self.env, next_us - self.env.now, phase)
            next_us += period_us

    def _channel_process(self) -> Generator:
        step_s = self.scenario.step_s
        ticks = self._every(step_s, PHASE_CHANNEL, first_s=step_s)
        while True:
            yield next(ticks)
            if self.physical is not None:
                self.physical.advance(step_s)
            else:
                self._truth_network.advance(step_s)
                self._truth_activity.advance_to(self._truth_network.time_s)

    def _report_process(self) -> Generator:
        sync = self.scenario.sync
        ticks = self._every(sync.report_period_s, PHASE_MEASURE, first_s=sync.report_period_s)
        while True:
            yield next(ticks)
            assert self.physical is not None
            self.sync.reports_sent += 1
            if self._sync_rng.random() < sync.drop_prob:
                self.sync.reports_dropped += 1
                continue
            report = self.physical.measure(sync.error_db, self._sync_rng)
            self.env.process(self._deliver(report, to_us(sync.delay_s)))

    def _deliver(self, report: ChannelReport, delay_us: int) -> Generator:
        yield PhasedTimeout(self.env, delay_us, PHASE_DELIVER)
        # Reports can overtake each other only if delays vary; never go back in time.
        if report.measured_at_s >= self.sync.estimate_measured_at_s:
            self._apply_report(report)
        self.sync.reports_delivered += 1

    def _apply_report(self, report: ChannelReport) -> None:
        self._est_gains = report.gains
        self._est_assoc = report.assoc
        self._est_positions = report.positions
        self._est_active = report.active
        self.sync.estimate_measured_at_s = report.measured_at_s

    def _decision_process(self) -> Generator:
        assert self.controller is not None
        ticks = self._every(self.scenario.control.epoch_s, PHASE_DECIDE)
        while True:
            yield next(ticks)
            instance = self.instance()
            users = np.asarray(instance.meta["user_ids"], dtype=np.intp)
            observation = Observation(
                time_s=self.time_s,
                instance=instance,
                power_mw=self.power_mw[users],
                staleness_s=self.staleness_s,
            )
            decided = instance.check_power(
                self.controller.decide(observation), self.controller.name
            )
            self.power_mw = self.power_mw.copy()
            self.power_mw[users] = decided
            if self.physical is not None:
                self.physical.apply_power(self.power_mw)
            self.kpis.record_powers(self.time_s, self.power_mw)

    def _record_process(self) -> Generator:
        ticks = self._every(self.scenario.step_s, PHASE_RECORD)
        while True:
            yield next(ticks)
            self.kpis.append(self.kpi_row())

    def kpi_row(self) -> dict[str, float]:
        """KPIs at this instant: realized on the truth, predicted on the twin's estimate."""
        bandwidth = self.scenario.channel.bandwidth_hz
        truth_gains = self._truth_network.gains()
        real, real_users = metrics_for(
            truth_gains, self._truth_network.association(), self.power_mw,
            self._truth_activity.active, self.scenario, self.noise_mw, self.constraints,
        )  # fmt: skip
        row = {
            "time_s": self.time_s,
            "utility": real.utility,
            "sum_rate_bps": real.sum_rate_bps,
            "total_power_mw": real.total_power_mw,
            "active_users": float(real_users.size),
            "feasible": float(real.feasible),
            **percentile_kpis(real, bandwidth),
        }
        if self.physical is None:
            row.update(utility_predicted=real.utility, sinr_rmse_db=0.0, staleness_s=0.0)
            return row
        gains, assoc, _, active = self.estimate()
        pred, pred_users = metrics_for(
            gains, assoc, self.power_mw, active, self.scenario, self.noise_mw, self.constraints
        )
        row["utility_predicted"] = pred.utility
        row["sinr_rmse_db"] = sinr_rmse_db(pred.sinr, pred_users, real.sinr, real_users)
        row["staleness_s"] = self.staleness_s
        return row

    # ------------------------------------------------------------------ running
    def run(
        self, until_s: float | None = None, progress: Callable[[float], None] | None = None
    ) -> KpiLog:
        """Run to ``until_s`` (default: the scenario's duration); ``progress`` gets fractions."""
        until_us = to_us(self.scenario.duration_s if until_s is None else until_s)
        if until_us <= self.env.now:
            return self.kpis
        check_budget(self.scenario, horizon_s=(until_us - self.env.now) / US_PER_S)
        if progress is None:
            self.env.run(until=until_us)
        else:
            chunk = max(self.step_us, (until_us - self.env.now) // 100)
            start = self.env.now
            while self.env.now < until_us:
                self.env.run(until=min(self.env.now + chunk, until_us))
                progress((self.env.now - start) / max(until_us - start, 1))
        return self.kpis


def sinr_rmse_db(
    pred_sinr: np.ndarray, pred_users: np.ndarray, real_sinr: np.ndarray, real_users: np.ndarray
) -> float:
    """RMS error (dB) of predicted vs realized SINR over users present in both views."""
    common, ip, ir = np.intersect1d(pred_users, real_users, assume_unique=True, return_indices=True)
    if common.size == 0:
        return float("nan")
    p, r = pred_sinr[ip], real_sinr[ir]
    ok = (p > 0) & (r > 0)
    if not ok.any():
        return 0.0
    return float(np.sqrt(np.mean((10 * np.log10(p[ok] / r[ok])) ** 2)))
