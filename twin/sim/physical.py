"""The physical layer: a separate, simulated ground truth that the twin mirrors.

It owns its own :class:`RadioNetwork` (same layout as the twin, its own random processes),
so the twin never reads the true channel: it learns it from :class:`ChannelReport` messages
that arrive late, noisy, or not at all. Deployed configurations are applied here and the
realized KPIs are measured here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.core.seeding import stream
from twin.radio.activity import UserActivity
from twin.radio.network import RadioNetwork
from twin.radio.uplink import Constraints, RadioMetrics, evaluate_power
from twin.scenario.schema import Scenario
from twin.sim.budget import check_budget


@dataclass(frozen=True)
class ChannelReport:
    """What the network reports about itself at ``measured_at_s``.

    ``gains`` carry the estimation error; association, positions and the active set are
    network facts and are reported exactly.
    """

    measured_at_s: float
    gains: np.ndarray
    assoc: np.ndarray
    positions: np.ndarray
    active: np.ndarray


def physical_seed(scenario: Scenario, seed: int) -> int:
    """The physical layer's own seed: the scenario's, or one derived from the twin's seed."""
    if scenario.sync.physical_seed is not None:
        return scenario.sync.physical_seed
    return int(stream(seed, "physical").integers(2**31))


def true_channel_scenario(scenario: Scenario) -> Scenario:
    """The scenario as the real network follows it: ``channel`` with the sections that
    ``sync.physical_channel`` overrides (the scenario itself when nothing differs)."""
    truth = scenario.sync.physical_channel
    if truth is None:
        return scenario
    update = {k: v for k, v in (("path_loss", truth.path_loss), ("shadowing", truth.shadowing))
              if v is not None}  # fmt: skip
    if not update:
        return scenario
    return scenario.model_copy(update={"channel": scenario.channel.model_copy(update=update)})


class PhysicalLayer:
    """Ground truth: the real channel, the active users and the powers in force."""

    def __init__(self, scenario: Scenario, seed: int | None = None):
        check_budget(scenario, horizon_s=0.0)  # refuse a network this machine cannot hold
        seed = scenario.seed if seed is None else seed
        self.scenario = scenario
        own = physical_seed(scenario, seed)
        # Same layout as the twin (the operator knows where its sites and users are); the
        # channel's randomness (shadowing, LOS, fading, movement) is the world's own, and so
        # is its law where sync.physical_channel says it differs from the twin's model.
        self.network = RadioNetwork(
            true_channel_scenario(scenario),
            stream(scenario.seed, "layout"),
            np.random.default_rng([own, 1]),
        )
        self.activity = UserActivity(
            scenario.users.activity, self.network.n_users, np.random.default_rng([own, 2])
        )
        self.power_mw = np.full(self.network.n_users, scenario.power.initial_mw)
        self.constraints = Constraints(**scenario.constraints.model_dump())

    @property
    def time_s(self) -> float:
        return self.network.time_s

    def advance(self, dt_s: float) -> None:
        """Let the world move on by ``dt_s``: mobility, fading, arrivals and departures."""
        self.network.advance(dt_s)
        self.activity.advance_to(self.network.time_s)

    def measure(self, error_db: float, rng: np.random.Generator) -> ChannelReport:
        """A channel report taken now, with log-normal estimation error of ``error_db``."""
        gains = self.network.gains()
        if error_db > 0:
            gains = gains * 10.0 ** (rng.normal(0.0, error_db, gains.shape) / 10.0)
        else:
            gains = gains.copy()
        return ChannelReport(
            measured_at_s=self.time_s,
            gains=gains,
            assoc=self.network.association().copy(),
            positions=self.network.positions.copy(),
            active=self.activity.active.copy(),
        )

    def apply_power(self, power_mw: np.ndarray) -> None:
        """Put a full power vector (one entry per user, idle ones included) in force."""
        power_mw = np.asarray(power_mw, dtype=float)
        if power_mw.shape != self.power_mw.shape:
            raise ValueError(f"power vector has shape {power_mw.shape}, need {self.power_mw.shape}")
        self.power_mw = power_mw.copy()

    def realized(self) -> tuple[RadioMetrics, np.ndarray]:
        """Metrics of the powers in force on the true channel, over the active users."""
        return metrics_for(
            self.network.gains(),
            self.network.association(),
            self.power_mw,
            self.activity.active,
            self.scenario,
            self.network.noise_mw,
            self.constraints,
        )


def metrics_for(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    active: np.ndarray,
    scenario: Scenario,
    noise_mw: float,
    constraints: Constraints,
) -> tuple[RadioMetrics, np.ndarray]:
    """Radio metrics over the active users only (idle users neither transmit nor count).

    Returns the metrics and the indices of the users they cover.
    """
    if active.all():
        users = np.arange(len(active))
    else:
        users = np.flatnonzero(active)
        gains, assoc, power_mw = gains[users], assoc[users], power_mw[users]
    metrics = evaluate_power(
        gains, assoc, power_mw, noise_mw, scenario.channel.bandwidth_hz,
        scenario.objective.price_per_mw, constraints, scenario.reuse,
    )  # fmt: skip
    return metrics, users
