"""The scenario schema: what a YAML scenario may say, with units and defaults on each field.

Validated by pydantic; :func:`twin.scenario.loader.load_scenario` maps every error back to the
file, line and field path. ``aign scenario schema`` exports the JSON Schema for editors.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _pair(value: object) -> object:
    """YAML and JSON have no tuples: a two-item list is a pair (strict mode wants a tuple)."""
    return tuple(value) if isinstance(value, list) and len(value) == 2 else value


Position = Annotated[
    tuple[float, float],
    BeforeValidator(_pair),
    Field(description="(x, y) in metres; the area spans [0, width] x [0, height]."),
]
MAX_USERS = 100_000
MAX_BS = 10_000
MAX_LEVELS = 10_001  # the step form gives at most 10,000 steps, so as many levels + 1
MAX_SEED = 2**63 - 1
MAX_TEXT = 10_000  # free text (description)
# The twin's clock counts microseconds: a shorter period would round to 0 and never advance.
MIN_PERIOD_S = 1e-3


class _Strict(BaseModel):
    """Unknown keys are errors (a misspelled field must not be silently ignored); so are
    .nan and .inf, which no physical quantity here may take. Strict: ``true`` or ``"3"``
    is no number, ``3.5`` no count."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class Area(_Strict):
    width_m: float = Field(1000.0, ge=1, le=1e6, description="Width of the area, m.")
    height_m: float = Field(1000.0, ge=1, le=1e6, description="Height of the area, m.")


class BaseStations(_Strict):
    layout: Literal["hexagonal", "grid", "random", "list"] = Field(
        "hexagonal",
        description="hexagonal/grid: evenly spread over the area; random: uniform; "
        "list: positions_m gives them.",
    )
    count: int | None = Field(None, ge=1, le=MAX_BS, description="Number of BSs (not for list).")
    positions_m: list[Position] | None = Field(
        None, max_length=MAX_BS, description="BS positions for layout: list."
    )
    height_m: float = Field(25.0, gt=0, le=300, description="Antenna height, m.")

    @model_validator(mode="after")
    def _count_or_positions(self) -> BaseStations:
        if self.layout == "list":
            if not self.positions_m:
                raise ValueError("layout 'list' needs positions_m, a list of [x, y] in metres")
            if self.count is not None and self.count != len(self.positions_m):
                raise ValueError(f"count {self.count} != {len(self.positions_m)} positions")
        elif self.count is None:
            raise ValueError(f"layout {self.layout!r} needs count (or use layout: list)")
        elif self.positions_m is not None:
            raise ValueError("positions_m is only allowed with layout: list")
        return self

    @property
    def n(self) -> int:
        return len(self.positions_m) if self.positions_m else int(self.count or 0)


class Activity(_Strict):
    """Users alternate between active and idle with exponential durations (arrivals/departures)."""

    mean_active_s: float = Field(
        ge=MIN_PERIOD_S, le=1e9, description="Mean time a user stays active, s."
    )
    mean_idle_s: float = Field(
        ge=MIN_PERIOD_S, le=1e9, description="Mean time a user stays idle, s."
    )
    initially_active: float = Field(
        1.0, ge=0, le=1, description="Fraction of users active at time 0."
    )


class Users(_Strict):
    count: int | None = Field(None, ge=1, le=MAX_USERS, description="Number of users.")
    placement: Literal["uniform", "near_bs", "list"] = Field(
        "uniform",
        description="uniform over the area; near_bs: uniform in a disc of cluster_radius_m "
        "around a random BS; list: positions_m gives them.",
    )
    positions_m: list[Position] | None = Field(
        None, max_length=MAX_USERS, description="User positions for placement: list."
    )
    cluster_radius_m: float = Field(
        200.0, gt=0, le=1e6, description="Disc radius for near_bs, m."
    )
    min_bs_distance_m: float = Field(
        10.0, ge=0, le=1e6,
        description="Placement keeps users at least this far from every BS, m.",
    )  # fmt: skip
    height_m: float = Field(1.5, gt=0, le=50, description="User antenna height, m.")
    mobility: Literal["static", "random_waypoint"] = "static"
    speed_mps: float | Annotated[tuple[float, float], BeforeValidator(_pair)] = Field(
        1.0,
        description="Speed in m/s, or [min, max] drawn uniformly per user. It moves users under "
        "random_waypoint and always sets the fading Doppler (f_d = speed * carrier / c).",
    )
    pause_s: float = Field(
        0.0, ge=0, le=1e6, description="Random-waypoint pause at each waypoint, s."
    )
    association: Literal["strongest", "nearest"] | Annotated[
        list[int], Field(max_length=MAX_USERS)
    ] = Field(
        "strongest",
        description="strongest average gain (path loss x shadowing), nearest BS, or a fixed "
        "list of BS indices, one per user.",
    )
    activity: Activity | None = Field(None, description="Arrivals/departures; none = always on.")

    @model_validator(mode="after")
    def _count_or_positions(self) -> Users:
        if self.placement == "list":
            if not self.positions_m:
                raise ValueError("placement 'list' needs positions_m, a list of [x, y] in metres")
            if self.count is not None and self.count != len(self.positions_m):
                raise ValueError(f"count {self.count} != {len(self.positions_m)} positions")
        elif self.count is None:
            raise ValueError(f"placement {self.placement!r} needs count (or use placement: list)")
        elif self.positions_m is not None:
            raise ValueError("positions_m is only allowed with placement: list")
        lo, hi = self.speed_range
        if lo < 0 or hi < lo or hi > 150:
            raise ValueError("speed_mps must be in [0, 150] m/s, and [min, max] with min <= max")
        if isinstance(self.association, list) and len(self.association) != self.n:
            raise ValueError(f"association lists {len(self.association)} BSs for {self.n} users")
        return self

    @property
    def n(self) -> int:
        return len(self.positions_m) if self.positions_m else int(self.count or 0)

    @property
    def speed_range(self) -> tuple[float, float]:
        s = self.speed_mps
        return (float(s), float(s)) if isinstance(s, (int, float)) else (float(s[0]), float(s[1]))


class PathLoss(_Strict):
    model: Literal["log_distance", "uma", "umi"] = Field(
        "uma", description="log_distance, or 3GPP TR 38.901 UMa / UMi street canyon (LOS prob.)."
    )
    exponent: float = Field(3.5, gt=0, le=10, description="log_distance: path-loss exponent.")
    ref_distance_m: float = Field(
        1.0, gt=0, le=1e4, description="log_distance: reference distance, m."
    )
    ref_loss_db: float | None = Field(
        None, ge=0, le=300,
        description="log_distance: loss at ref_distance_m, dB (default: free space).",
    )  # fmt: skip


class Shadowing(_Strict):
    enabled: bool = True
    std_db: float | None = Field(
        None, ge=0, le=30,
        description="Log-normal std, dB. Default: 38.901's LOS/NLOS values (UMa 4/6, UMi "
        "4/7.82), 8 dB for log_distance.",
    )  # fmt: skip
    decorrelation_m: float | None = Field(
        None, ge=0.1, le=1e5,
        description="Distance at which the spatial correlation falls to 1/e, m. Default: "
        "38.901's per LOS state (UMa 37/50, UMi 10/13 LOS/NLOS), 50 for log_distance.",
    )  # fmt: skip


class Fading(_Strict):
    model: Literal["none", "rayleigh", "rician"] = "rayleigh"
    k_factor_db: float = Field(9.0, ge=-30, le=40, description="Rician K factor, dB.")


class Noise(_Strict):
    figure_db: float = Field(7.0, ge=0, le=30, description="Receiver noise figure, dB.")
    noise_mw: float | None = Field(
        None, ge=1e-30, le=1e6,
        description="Override: noise power in mW (else -174 dBm/Hz + 10log10(B) + NF).",
    )  # fmt: skip


class Channel(_Strict):
    mode: Literal["model", "explicit"] = Field(
        "model", description="model: from geometry; explicit: the gains matrix below."
    )
    carrier_ghz: float = Field(3.5, gt=0.1, le=100, description="Carrier frequency, GHz.")
    bandwidth_hz: float = Field(1e6, gt=0, le=1e9, description="Shared uplink bandwidth, Hz.")
    gains: list[Annotated[list[Annotated[float, Field(gt=0, le=1e3)]],
                          Field(max_length=MAX_BS)]] | None = Field(
        None, max_length=MAX_USERS,
        description="explicit: average linear gain, one row per user, one column per BS "
        "(at most 1e3: no passive channel gains 30 dB).",
    )  # fmt: skip
    path_loss: PathLoss = PathLoss()
    shadowing: Shadowing = Shadowing()
    fading: Fading = Fading()
    noise: Noise = Noise()

    @model_validator(mode="after")
    def _explicit_needs_gains(self) -> Channel:
        if self.mode == "explicit":
            if not self.gains:
                raise ValueError("mode 'explicit' needs gains (one row per user)")
            width = len(self.gains[0])
            for i, row in enumerate(self.gains):
                if len(row) != width:
                    raise ValueError(f"gains row {i} has {len(row)} entries, row 0 has {width}")
        elif self.gains is not None:
            raise ValueError("gains is only allowed with mode: explicit")
        return self


class Power(_Strict):
    levels_mw: list[Annotated[float, Field(ge=0, le=10_000)]] | None = Field(
        None, max_length=MAX_LEVELS,
        description="Allowed transmit powers, mW (else min_mw:step_mw:max_mw).",
    )  # fmt: skip
    min_mw: float = Field(0.0, ge=0, le=10_000)
    max_mw: float = Field(40.0, gt=0, le=10_000)
    step_mw: float = Field(1.0, gt=0, le=10_000)
    initial_mw: float = Field(
        0.0, ge=0, le=10_000, description="Power of every user at time 0, mW."
    )

    @model_validator(mode="after")
    def _levels(self) -> Power:
        if self.levels_mw is not None:
            if sorted(set(self.levels_mw)) != list(self.levels_mw):
                raise ValueError("levels_mw must be strictly increasing")
        elif self.min_mw > self.max_mw:
            raise ValueError("min_mw must not exceed max_mw")
        elif (self.max_mw - self.min_mw) / self.step_mw > 10_000:
            raise ValueError("more than 10000 power levels; raise step_mw")
        if not any(abs(level - self.initial_mw) < 1e-9 for level in self.levels()):
            raise ValueError(f"initial_mw {self.initial_mw} is not one of the power levels")
        return self

    def levels(self) -> list[float]:
        """The allowed levels in mW, ascending."""
        if self.levels_mw is not None:
            return list(self.levels_mw)
        n = int(round((self.max_mw - self.min_mw) / self.step_mw))
        levels = [self.min_mw + k * self.step_mw for k in range(n + 1)]
        return [x for x in levels if x <= self.max_mw + 1e-9]


class Objective(_Strict):
    price_per_mw: float = Field(
        0.0225, ge=0, le=1e6,
        description="Linear power cost in U = sum ln(1+R) - price * sum p, per mW.",
    )


class ConstraintsSpec(_Strict):
    min_rate_bps: float | None = Field(
        None, ge=0, le=1e15, description="Per-user minimum rate, bit/s."
    )
    max_total_power_mw: float | None = Field(
        None, gt=0, le=1e15, description="Total power budget, mW."
    )
    max_interference_mw: float | None = Field(
        None, gt=0, le=1e15, description="Cap on inter-cell interference received at each BS, mW."
    )


class PhysicalChannel(_Strict):
    """Where the real network's channel differs from ``channel``, the twin's model of it.

    The operator plans with a model (say 38.901 UMa, or a textbook exponent); the real
    network follows its own law. The physical layer (ground truth) uses these sections in
    place of ``channel``'s; the twin never sees them and can only learn them from channel
    reports (``aign calibrate``). Its shadowing field is its own draw either way.
    """

    path_loss: PathLoss | None = Field(
        None, description="The true path-loss law; null: channel.path_loss (no mismatch)."
    )
    shadowing: Shadowing | None = Field(
        None, description="The true shadowing statistics; null: channel.shadowing."
    )


class Sync(_Strict):
    enabled: bool = Field(
        True, description="Attach a physical layer (ground truth) that reports channels."
    )
    report_period_s: float = Field(
        0.1, ge=MIN_PERIOD_S, le=1e6, description="Time between channel reports, s."
    )
    delay_s: float = Field(
        0.0, ge=0, le=1e6, description="Delay before a report reaches the twin, s."
    )
    error_db: float = Field(0.0, ge=0, le=30, description="Log-normal gain estimation error, dB.")
    drop_prob: float = Field(0.0, ge=0, lt=1, description="Probability a report is lost.")
    physical_seed: int | None = Field(
        None, ge=0, le=MAX_SEED,
        description="Seed of the physical layer's own randomness (default: derived).",
    )  # fmt: skip
    physical_channel: PhysicalChannel | None = Field(
        None,
        description="The physical layer's true channel where it differs from channel (the "
        "twin's model); null: the same model (docs/deployment.md#calibration).",
    )


class Control(_Strict):
    epoch_s: float = Field(
        1.0, ge=MIN_PERIOD_S, le=1e6, description="Time between controller decisions, s."
    )
    controller: str = Field(
        "coordinate", min_length=1, max_length=500,
        description="Controller spec, e.g. fixed:10, fpc, wmmse.",
    )  # fmt: skip


class Gates(_Strict):
    """What a design must show before it is deployed, and how a deployment is judged.

    ``aign validate`` runs the design and the design now in force on the same seeds (common
    random numbers) and checks the ``min_*`` gates; ``aign deploy`` refuses a design without a
    passing validation younger than ``max_validation_age_s``, then observes it for
    ``window_s`` and restores the previous design if it falls short. See docs/deployment.md.
    """

    runs: int = Field(
        20, ge=2, le=10_000,
        description="Monte-Carlo runs (seeds) of a validation when --runs is not given.",
    )  # fmt: skip
    min_runs: int = Field(
        10, ge=2, le=10_000,
        description="A validation with fewer runs than this fails (its intervals are too wide).",
    )  # fmt: skip
    window_s: float = Field(
        5.0, gt=0, le=3600,
        description="Simulated time averaged in each validation run and observed after a "
        "deployment, s (at least step_s).",
    )  # fmt: skip
    min_improvement: float = Field(
        0.0, ge=-1e12, le=1e12,
        description="The lower 95% confidence bound of the paired mean-utility improvement "
        "over the design in force must reach this (utility units, may be negative).",
    )
    min_constraint_satisfaction: float = Field(
        0.95, ge=0, le=1,
        description="Each imposed constraint must hold in at least this fraction of the "
        "sampled instants.",
    )  # fmt: skip
    min_rate_p5_bps: float | None = Field(
        None, ge=0, le=1e15,
        description="The 5th-percentile user rate (mean over runs) must reach this, bit/s; "
        "null: not gated.",
    )  # fmt: skip
    max_validation_age_s: float = Field(
        86_400.0, gt=0, le=1e10,
        description="A validation older than this (wall clock) no longer allows a deployment, s.",
    )  # fmt: skip
    realized_utility_tolerance: float | None = Field(
        None, ge=0, le=1e12,
        description="A deployment is kept when its realized mean utility is at least the "
        "validated mean minus this (utility units); null: at least the 5th percentile of the "
        "validation runs' means.",
    )  # fmt: skip
    min_fresh_reports: int = Field(
        3, ge=1, le=1_000_000,
        description="Channel reports measured after the new design took effect that an "
        "observation needs; with fewer the deployment cannot be judged and is rolled back.",
    )  # fmt: skip


class Scenario(_Strict):
    """A network, its channel, the objective and how the twin runs it."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = Field("", max_length=MAX_TEXT)
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of every random process in the twin.")
    duration_s: float = Field(10.0, gt=0, le=1e6, description="Simulated time, s.")
    step_s: float = Field(
        0.1, ge=MIN_PERIOD_S, le=1e6, description="Channel and mobility update period, s."
    )
    area: Area = Area()
    base_stations: BaseStations
    users: Users
    channel: Channel = Channel()
    power: Power = Power()
    objective: Objective = Objective()
    constraints: ConstraintsSpec = ConstraintsSpec()
    reuse: Literal["shared", "orthogonal_in_cell"] = Field(
        "shared", description="shared: every user interferes; orthogonal_in_cell: OFDMA-like."
    )
    sync: Sync = Sync()
    control: Control = Control()
    gates: Gates = Field(
        Gates(), description="Validation and deployment gates (docs/deployment.md)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        # Messages start with "@field.path: " so the loader can point at the offending line.
        if self.step_s > self.duration_s:
            raise ValueError("@step_s: must not exceed duration_s")
        if self.duration_s / self.step_s > 10_000_000:
            raise ValueError(
                "@step_s: more than 10 million steps; raise step_s or lower duration_s"
            )
        if self.control.epoch_s < self.step_s:
            raise ValueError(f"@control.epoch_s: must be at least step_s ({self.step_s:g} s)")
        if self.gates.window_s < self.step_s:
            raise ValueError(f"@gates.window_s: must be at least step_s ({self.step_s:g} s)")
        w, h = self.area.width_m, self.area.height_m
        if self.users.placement != "list" and self.users.min_bs_distance_m >= math.hypot(w, h):
            raise ValueError(
                f"@users.min_bs_distance_m: {self.users.min_bs_distance_m:g} m is not less than "
                f"the area's diagonal ({math.hypot(w, h):g} m): no user could be placed"
            )
        for label, positions in (
            ("base_stations.positions_m", self.base_stations.positions_m),
            ("users.positions_m", self.users.positions_m),
        ):
            for k, (x, y) in enumerate(positions or []):
                if not (0 <= x <= w and 0 <= y <= h):
                    raise ValueError(
                        f"@{label}.{k}: ({x:g}, {y:g}) lies outside the area "
                        f"[0, {w:g}] x [0, {h:g}] m"
                    )
        n_bs = self.base_stations.n
        if isinstance(self.users.association, list):
            bad = [b for b in self.users.association if not 0 <= b < n_bs]
            if bad:
                raise ValueError(f"@users.association: {bad[:5]} are not BS indices 0..{n_bs - 1}")
        if self.channel.mode == "explicit":
            gains = self.channel.gains or []
            if len(gains) != self.users.n or len(gains[0]) != n_bs:
                raise ValueError(
                    f"@channel.gains: is {len(gains)} x {len(gains[0])} but the scenario has "
                    f"{self.users.n} users x {n_bs} BSs"
                )
            if self.users.mobility != "static":
                raise ValueError("@users.mobility: channel mode 'explicit' needs mobility static")
            if self.sync.physical_channel is not None:
                raise ValueError(
                    "@sync.physical_channel: needs channel mode 'model' (explicit gains have "
                    "no path loss or shadowing to differ)"
                )
        return self
