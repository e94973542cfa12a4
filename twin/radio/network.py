"""One uplink network evolving in time: layout, mobility, path loss, shadowing and fading.

The twin and the physical layer each own a :class:`RadioNetwork` built from the same
scenario. The layout (BS sites, initial user positions, user speeds) comes from
``layout_rng`` only, so both see the same network when given the same layout seed; the
world's randomness (shadowing fields, LOS states, fading, waypoints) comes from
``process_rng``, so different process seeds give different channels on that layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twin.radio.channel import thermal_noise_mw
from twin.radio.fading import FadingProcess, doppler_hz
from twin.radio.mobility import RandomWaypoint, place_base_stations, place_users
from twin.radio.pathloss import (
    default_shadowing_std_db,
    los_probability,
    path_loss_db,
    uma_draws_environment_height,
    uma_environment_height_m,
)
from twin.radio.shadowing import MAX_SHADOWING_POINTS, ShadowingField, decorrelation_pair_m
from twin.scenario.schema import Scenario

if TYPE_CHECKING:
    from twin.radio.calibration import Calibration


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class RadioNetwork:
    """The state of one network: where everyone is and the channel gain of every link.

    ``gains()[i, j]`` is the linear power gain from user ``i`` to BS ``j``: large-scale
    (path loss x shadowing) times small-scale fading. Arrays handed out are read-only and
    never change afterwards: :meth:`advance` makes new ones, so a caller may keep a snapshot.

    ``calibration`` (twin.radio.calibration) replaces the scenario's path loss and shadowing by
    what the channel reports said: the fitted law, the kriged shadowing map, and this
    network's own shadowing field scaled by the map's remaining uncertainty.

    Large-scale state that persists while users move: each link keeps the uniforms it drew
    at construction. It is LOS while its LOS uniform is below the LOS probability at its
    distance (38.901 7.6.3.3's spatially consistent LOS in its simplest form). UMa with users
    of 13.5 m or more also draws two uniforms per link for the effective environment height
    ``h_E`` (:func:`twin.radio.pathloss.uma_environment_height_m`): the link keeps its
    ``h_E`` while its class stays the same (1 m while the first uniform is below
    ``1/(1 + C(d2D, h_UT))``, else elevated), and its elevated value is always the same one.
    Shadowing reads one field per LOS state when the two states' decorrelation distances
    differ (the spec's defaults): a link that changes state reads an independent field.
    """

    def __init__(
        self,
        scenario: Scenario,
        layout_rng: np.random.Generator,
        process_rng: np.random.Generator,
        calibration: Calibration | None = None,
    ):
        self.scenario = scenario
        self.calibration = calibration
        channel = scenario.channel
        users = scenario.users
        area = scenario.area
        self.explicit = channel.mode == "explicit"

        # Layout: layout_rng only, always in this order.
        self.bs_positions = _read_only(
            place_base_stations(scenario.base_stations, area, layout_rng)
        )
        self._positions = place_users(users, self.bs_positions, area, layout_rng)
        lo, hi = users.speed_range
        self.speeds_mps = _read_only(layout_rng.uniform(lo, hi, users.n))
        self.n_users = users.n
        self.n_bs = scenario.base_stations.n

        if channel.noise.noise_mw is not None:
            self.noise_mw = float(channel.noise.noise_mw)
        else:
            self.noise_mw = thermal_noise_mw(channel.bandwidth_hz, channel.noise.figure_db)
        self.time_s = 0.0
        self._doppler_hz = doppler_hz(self.speeds_mps, channel.carrier_ghz)

        # The world's randomness: process_rng only, always in this order.
        shadowing = channel.shadowing
        model = channel.path_loss.model
        self._shadowing: ShadowingField | None = None  # LOS links' field (or every link's)
        self._shadowing_nlos: ShadowingField | None = None  # NLOS links', when it differs
        calibrated_map = calibration is not None and calibration.shadowing is not None
        if not self.explicit and (shadowing.enabled or calibrated_map):
            d_los, d_nlos = decorrelation_pair_m(model, shadowing.decorrelation_m)
            field = (process_rng, self.n_bs, area.width_m, area.height_m)
            if calibration is not None or d_los == d_nlos:
                # A calibrated law has no LOS state: one field, at the NLOS distance (the
                # one calibration kriges with).
                self._shadowing = ShadowingField(*field, d_nlos)
            else:  # two fields share the memory cap
                half = MAX_SHADOWING_POINTS // 2
                self._shadowing = ShadowingField(*field, d_los, max_points=half)
                self._shadowing_nlos = ShadowingField(*field, d_nlos, max_points=half)
        self._los_draw: np.ndarray | None = None
        self._env_draw: np.ndarray | None = None
        if not self.explicit:
            self._los_draw, self._env_draw = self.draw_link_states(process_rng, users.n)
        self.fading = FadingProcess(
            process_rng, users.n, self.n_bs, channel.fading.model, channel.fading.k_factor_db,
            doppler_hz=self._doppler_hz,
        )  # fmt: skip
        self._mobility: RandomWaypoint | None = None
        if users.mobility == "random_waypoint":
            self._mobility = RandomWaypoint(
                process_rng, self._positions, area.width_m, area.height_m,
                self.speeds_mps, users.pause_s,
            )  # fmt: skip
            self._positions = self._mobility.positions

        self._large_scale: np.ndarray | None = None
        self._association: np.ndarray | None = None
        self._gains: np.ndarray | None = None
        if self.explicit:
            self._large_scale = _read_only(np.array(channel.gains, dtype=np.float64))

    # ----------------------------------------------------------------------- state

    @property
    def positions(self) -> np.ndarray:
        """Current user positions ``(U, 2)``: a read-only view of the live array, which moves
        with the users under random waypoint (copy it to keep a snapshot)."""
        view = self._positions.view()
        view.flags.writeable = False
        return view

    def _geometry(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """2D and 3D distances ``(N, B)`` from ``points`` to every BS."""
        dx = points[:, 0:1] - self.bs_positions[:, 0]
        dy = points[:, 1:2] - self.bs_positions[:, 1]
        d2d = np.hypot(dx, dy)
        dh = self.scenario.base_stations.height_m - self.scenario.users.height_m
        return d2d, np.hypot(d2d, dh)

    @property
    def draws_environment_height(self) -> bool:
        """Whether links draw UMa's ``h_E`` (UMa with users of 13.5 m or more)."""
        return not self.explicit and uma_draws_environment_height(
            self.scenario.channel.path_loss.model, self.scenario.users.height_m
        )

    def draw_link_states(
        self, rng: np.random.Generator, n_users: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The uniforms that fix ``n_users`` users' link states at this network's BSs, drawn
        from ``rng`` as the network draws its own: LOS ``(n_users, B)``, then the ``h_E``
        pair ``(2, n_users, B)`` where it can differ from 1 m (else ``None``)."""
        los_draw = rng.uniform(size=(n_users, self.n_bs))
        env_draw = None
        if self.draws_environment_height:
            env_draw = rng.uniform(size=(2, n_users, self.n_bs))
        return los_draw, env_draw

    def _large_scale_db(
        self, points: np.ndarray, los_draw: np.ndarray | None, env_draw: np.ndarray | None
    ) -> np.ndarray:
        """Path loss plus shadowing in dB ``(N, B)`` at ``points``.

        ``los_draw`` / ``env_draw``: the links' uniforms (:meth:`draw_link_states`);
        ``los_draw=None`` for a probe, which takes the likelier LOS state (LOS when the
        probability is >= 0.5) and the median ``h_E`` draw (both uniforms 0.5).
        """
        channel = self.scenario.channel
        pl = channel.path_loss
        h_ut = self.scenario.users.height_m
        d2d, d3d = self._geometry(points)
        if self.calibration is not None:
            field = None if self._shadowing is None else self._shadowing.sample(points)
            return self.calibration.loss_db(points, d3d, field)
        p_los = los_probability(pl.model, d2d, h_ut)
        los = p_los >= 0.5 if los_draw is None else los_draw < p_los
        h_e: np.ndarray | float = 1.0
        if self.draws_environment_height:
            if los_draw is None:
                h_e = uma_environment_height_m(d2d, h_ut, 0.5, 0.5)
            elif env_draw is None:
                raise ValueError(
                    "this network draws UMa's h_E per link: pass env_draw with los_draw "
                    "(RadioNetwork.draw_link_states draws both)"
                )
            else:
                h_e = uma_environment_height_m(d2d, h_ut, env_draw[0], env_draw[1])
        loss = path_loss_db(
            pl.model, d2d, d3d, self.scenario.base_stations.height_m, h_ut,
            channel.carrier_ghz, los, exponent=pl.exponent,
            ref_distance_m=pl.ref_distance_m, ref_loss_db=pl.ref_loss_db, h_e_m=h_e,
        )  # fmt: skip
        if self._shadowing is not None:
            std = channel.shadowing.std_db
            std_db = default_shadowing_std_db(pl.model, los) if std is None else std
            field = self._shadowing.sample(points)
            if self._shadowing_nlos is not None:
                field = np.where(los, field, self._shadowing_nlos.sample(points))
            loss += std_db * field
        return loss

    def large_scale_gain(self) -> np.ndarray:
        """Average gain ``(U, B)``, linear: ``10^(-(PL + shadowing)/10)``; in explicit mode
        the scenario's gains. Read-only; static users compute it once."""
        if self._large_scale is None:
            loss_db = self._large_scale_db(self._positions, self._los_draw, self._env_draw)
            self._large_scale = _read_only(np.power(10.0, loss_db / -10.0))
        return self._large_scale

    def gains(self) -> np.ndarray:
        """Current gains ``(U, B)``, linear: large-scale times fading power. Read-only."""
        if self._gains is None:
            if self.fading.model == "none":
                self._gains = self.large_scale_gain()
            else:
                g = self.fading.power()
                g *= self.large_scale_gain()
                self._gains = _read_only(g)
        return self._gains

    def association(self) -> np.ndarray:
        """Serving BS of each user ``(U,)``: strongest average gain, nearest BS, or the
        scenario's list. Read-only."""
        if self._association is None:
            rule = self.scenario.users.association
            if isinstance(rule, list):
                assoc = np.array(rule, dtype=np.intp)
            elif rule == "nearest":
                assoc = np.argmin(self._geometry(self._positions)[0], axis=1)
            else:
                assoc = np.argmax(self.large_scale_gain(), axis=1)
            self._association = _read_only(assoc)
        return self._association

    # ----------------------------------------------------------------------- time

    def advance(self, dt_s: float) -> None:
        """Move the network on by ``dt_s``: users walk (random waypoint), then fading evolves
        with Jakes' spectrum (Doppler from each user's nominal speed)."""
        if dt_s < 0:
            raise ValueError(f"dt_s must be non-negative, got {dt_s}")
        if self._mobility is not None:
            self._mobility.step(dt_s)
            self._large_scale = None
            self._association = None
        self.fading.step(dt_s)
        self._gains = None
        self.time_s += dt_s

    # ----------------------------------------------------------------------- maps

    def large_scale_gain_at(
        self,
        points: np.ndarray,
        los_draw: np.ndarray | None = None,
        env_draw: np.ndarray | None = None,
    ) -> np.ndarray:
        """Average gain ``(N, B)`` a user would have at ``points`` ``(N, 2)``: path loss and
        this network's shadowing field at those points; no fading.

        ``los_draw`` (and ``env_draw`` where the network draws UMa's ``h_E``): the links'
        uniforms, as :meth:`draw_link_states` draws them for the network's own users;
        ``None`` for a probe (SINR maps), which takes the likelier LOS state (LOS when the
        probability is >= 0.5) and the median ``h_E`` draw.
        """
        if self.explicit:
            raise ValueError("no geometry in explicit mode")
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        return np.power(10.0, self._large_scale_db(points, los_draw, env_draw) / -10.0)
