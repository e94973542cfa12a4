"""Random problem instances drawn from a scenario, fast enough for learning.

Stage 1 explores many environments: an episode is one instance. Building a whole
:class:`RadioNetwork` per episode would regenerate the shadowing fields every time, so the
sampler keeps one environment (BS layout and shadowing fields) and draws, per instance,
fresh user positions, LOS states, fading and, optionally, a noise-figure offset.
"""

from __future__ import annotations

import numpy as np

from twin.core.seeding import stream
from twin.radio.instance import ProblemInstance
from twin.radio.mobility import place_users
from twin.radio.network import RadioNetwork
from twin.radio.uplink import Constraints
from twin.scenario.schema import Scenario


def fading_power(
    rng: np.random.Generator, shape: tuple[int, ...], model: str, k_db: float
) -> np.ndarray:
    """Independent small-scale fading power draws with mean 1 (one snapshot, no time)."""
    if model == "none":
        return np.ones(shape)
    scatter = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
    if model == "rayleigh":
        return np.abs(scatter) ** 2
    k = 10.0 ** (k_db / 10.0)
    los = np.exp(1j * rng.uniform(0, 2 * np.pi, shape))
    return np.abs(np.sqrt(k / (k + 1)) * los + np.sqrt(1 / (k + 1)) * scatter) ** 2


class InstanceSampler:
    """Draws :class:`ProblemInstance` objects that vary what the scenario leaves random.

    ``noise_jitter_db`` adds a Gaussian offset (std, dB) to the noise power per instance,
    so that learned policies see a range of noise levels. ``price_jitter`` (a factor
    ``f >= 1``) scales the price per instance by a log-uniform draw in ``[1/f, f]``, rounded
    to float32 so that a dataset's float32 label holds it exactly. Neither draws anything
    when off, so the instances of a seed do not change.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int = 0,
        noise_jitter_db: float = 0.0,
        price_jitter: float = 1.0,
    ):
        if not (np.isfinite(price_jitter) and price_jitter >= 1.0):
            raise ValueError(f"price_jitter is a factor >= 1, got {price_jitter!r}")
        self.scenario = scenario
        self.noise_jitter_db = noise_jitter_db
        self.price_jitter = float(price_jitter)
        self.network = RadioNetwork(
            scenario, stream(scenario.seed, "layout"), stream(seed, "network")
        )
        self.levels_mw = np.asarray(scenario.power.levels(), dtype=float)
        self.constraints = Constraints(**scenario.constraints.model_dump())

    def sample(self, rng: np.random.Generator, n_users: int | None = None) -> ProblemInstance:
        """One instance with ``n_users`` users (default: the scenario's count)."""
        sc = self.scenario
        n = sc.users.n if n_users is None else int(n_users)
        fixed_count = self.network.explicit or sc.users.placement == "list"
        if fixed_count and n != sc.users.n:
            raise ValueError(
                f"scenario {sc.name!r} fixes its {sc.users.n} users (explicit gains or listed "
                f"positions); it cannot be sampled with {n} users"
            )
        n_bs = self.network.n_bs
        if self.network.explicit:
            average = self.network.large_scale_gain()
            positions = self.network.positions
        else:
            spec = sc.users.model_copy(update={"count": n})
            positions = place_users(spec, self.network.bs_positions, sc.area, rng)
            los_draw, env_draw = self.network.draw_link_states(rng, n)
            average = self.network.large_scale_gain_at(positions, los_draw, env_draw)
        fading = sc.channel.fading
        gains = average * fading_power(rng, (n, n_bs), fading.model, fading.k_factor_db)
        noise_mw = self.network.noise_mw
        if self.noise_jitter_db > 0:
            noise_mw *= 10.0 ** (rng.normal(0.0, self.noise_jitter_db) / 10.0)
        price = sc.objective.price_per_mw
        if self.price_jitter > 1.0:
            spread = np.log(self.price_jitter)
            price = float(np.float32(price * np.exp(rng.uniform(-spread, spread))))
        return ProblemInstance(
            gains=gains,
            assoc=self._association(average, positions, n),
            noise_mw=float(noise_mw),
            bandwidth_hz=sc.channel.bandwidth_hz,
            levels_mw=self.levels_mw,
            price=price,
            constraints=self.constraints,
            reuse=sc.reuse,
            meta={"scenario": sc.name, "sampled": True},
        )

    def _association(self, average: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
        rule = self.scenario.users.association
        if isinstance(rule, list):
            if len(rule) != n:
                raise ValueError("a fixed association list needs the scenario's user count")
            return np.asarray(rule, dtype=np.intp)
        if rule == "nearest":
            d = np.hypot(
                *(positions[:, None, :] - self.network.bs_positions[None]).transpose(2, 0, 1)
            )
            return np.argmin(d, axis=1)
        return np.argmax(average, axis=1)
