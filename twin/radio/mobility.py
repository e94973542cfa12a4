"""Where base stations and users are, and how users move: placement and random waypoint.

Everything is vectorized over users (no Python loop per user) and draws only from the
generator it is given. Positions are ``(N, 2)`` arrays of ``(x, y)`` in metres inside the
area ``[0, width] x [0, height]``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from twin.core.errors import InfeasibleError
from twin.scenario.schema import Area, BaseStations, Users

# Rejection sampling gives up after this many rounds without placing every user.
MAX_PLACEMENT_ROUNDS = 200
# Random waypoint: sub-steps per step (arrive, pause, leave, ...); leftover time is dropped.
MAX_WAYPOINT_LEGS = 16


# --------------------------------------------------------------------------- base stations


def _rows(count: int, n_rows: int) -> np.ndarray:
    """How many of ``count`` items go in each of ``n_rows`` rows, as evenly as possible."""
    per_row = np.full(n_rows, count // n_rows)
    per_row[: count % n_rows] += 1
    return per_row


def _row_layout(count: int, area: Area, n_rows: int, stagger: bool) -> np.ndarray:
    """``count`` points in ``n_rows`` rows, each row at the centres of equal cells.

    With ``stagger``, even rows shift left and odd rows right by a quarter cell, so odd rows
    sit half a spacing off even rows (a hexagonal pattern) and every point stays inside.
    """
    n_rows = int(min(max(n_rows, 1), count))
    w, h = area.width_m, area.height_m
    xs, ys = [], []
    for r, n in enumerate(_rows(count, n_rows)):
        dx = w / n
        shift = (0.25 if r % 2 else -0.25) if stagger and n_rows > 1 else 0.0
        xs.append((np.arange(n) + 0.5 + shift) * dx)
        ys.append(np.full(n, (r + 0.5) * h / n_rows))
    return np.column_stack([np.concatenate(xs), np.concatenate(ys)])


def place_base_stations(spec: BaseStations, area: Area, rng: np.random.Generator) -> np.ndarray:
    """BS positions ``(B, 2)`` for the scenario's layout.

    - ``list``: as given.
    - ``grid``: rows of equal cells, the row count chosen so cells are near square for the
      area's aspect ratio; BSs at cell centres.
    - ``hexagonal``: the same with rows ``sqrt(3)/2`` as far apart as columns and odd rows
      offset by half a spacing.
    - ``random``: uniform over the area.
    """
    n = spec.n
    if spec.layout == "list":
        return np.asarray(spec.positions_m, dtype=float).reshape(-1, 2)
    aspect = area.height_m / area.width_m
    if spec.layout == "grid":
        return _row_layout(n, area, round(math.sqrt(n * aspect)), stagger=False)
    if spec.layout == "hexagonal":
        # Row pitch is sqrt(3)/2 of the column pitch: rows/cols = aspect * 2/sqrt(3).
        return _row_layout(n, area, round(math.sqrt(n * aspect * 2.0 / math.sqrt(3.0))), True)
    if spec.layout == "random":
        return rng.uniform(0.0, 1.0, (n, 2)) * [area.width_m, area.height_m]
    raise ValueError(f"unknown base-station layout {spec.layout!r}")


# --------------------------------------------------------------------------- users


def _far_enough(points: np.ndarray, tree: cKDTree | None, min_distance_m: float) -> np.ndarray:
    """Which points are at least ``min_distance_m`` from every BS."""
    if tree is None or min_distance_m <= 0:
        return np.ones(len(points), dtype=bool)
    nearest, _ = tree.query(points, k=1)
    return nearest >= min_distance_m


def place_users(
    spec: Users, bs_positions: np.ndarray, area: Area, rng: np.random.Generator
) -> np.ndarray:
    """Initial user positions ``(U, 2)``.

    - ``list``: as given.
    - ``uniform``: uniform over the area.
    - ``near_bs``: uniform in a disc of ``cluster_radius_m`` around a uniformly chosen BS,
      clipped into the area.

    ``uniform`` and ``near_bs`` keep every user at least ``min_bs_distance_m`` from every BS
    by rejection (batched over users); a ``ValueError`` says so when that looks impossible.
    """
    if spec.placement == "list":
        return np.asarray(spec.positions_m, dtype=float).reshape(-1, 2)
    n = spec.n
    bs = np.asarray(bs_positions, dtype=float).reshape(-1, 2)
    tree = cKDTree(bs) if len(bs) and spec.min_bs_distance_m > 0 else None
    size = np.array([area.width_m, area.height_m])

    def draw(k: int) -> np.ndarray:
        if spec.placement == "uniform":
            return rng.uniform(0.0, 1.0, (k, 2)) * size
        if spec.placement == "near_bs":
            centre = bs[rng.integers(0, len(bs), k)]
            radius = spec.cluster_radius_m * np.sqrt(rng.uniform(0.0, 1.0, k))
            angle = rng.uniform(0.0, 2.0 * np.pi, k)
            offset = radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
            return np.clip(centre + offset, 0.0, size)
        raise ValueError(f"unknown user placement {spec.placement!r}")

    placed = np.empty((n, 2))
    filled = 0
    for _ in range(MAX_PLACEMENT_ROUNDS):
        need = n - filled
        candidates = draw(max(2 * need, 64))
        ok = candidates[_far_enough(candidates, tree, spec.min_bs_distance_m)][:need]
        placed[filled : filled + len(ok)] = ok
        filled += len(ok)
        if filled == n:
            return placed
    raise InfeasibleError(
        f"could not place {n} users ({spec.placement}) at least {spec.min_bs_distance_m:g} m "
        f"from every BS in a {area.width_m:g} x {area.height_m:g} m area after "
        f"{MAX_PLACEMENT_ROUNDS} rounds ({filled} placed); lower users.min_bs_distance_m"
        + (" or raise users.cluster_radius_m" if spec.placement == "near_bs" else "")
    )


# --------------------------------------------------------------------------- mobility


class RandomWaypoint:
    """Random-waypoint mobility: each user walks straight to a uniform waypoint at its own
    speed, pauses ``pause_s`` there, then draws the next waypoint.

    Within a step a user may arrive, pause and leave again (up to :data:`MAX_WAYPOINT_LEGS`
    legs; time beyond that is dropped), but never overshoots a waypoint, so a user moves at
    most ``speed * dt`` per step and stays in the area. Users of speed 0 never move.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        positions: np.ndarray,
        width_m: float,
        height_m: float,
        speeds_mps: np.ndarray,
        pause_s: float = 0.0,
    ):
        self.rng = rng
        self.positions = np.array(positions, dtype=float).reshape(-1, 2)
        n = len(self.positions)
        self.speeds_mps = np.broadcast_to(np.asarray(speeds_mps, dtype=float), (n,)).copy()
        if np.any(self.speeds_mps < 0):
            raise ValueError("speeds_mps must be non-negative")
        self.size = np.array([width_m, height_m], dtype=float)
        self.pause_s = float(pause_s)
        self.waypoints = self._draw_waypoints(n)
        self.pause_left_s = np.zeros(n)

    def _draw_waypoints(self, k: int) -> np.ndarray:
        return self.rng.uniform(0.0, 1.0, (k, 2)) * self.size

    def step(self, dt_s: float) -> np.ndarray:
        """Move every user on by ``dt_s``; returns the positions ``(U, 2)`` (updated in place)."""
        if dt_s < 0:
            raise ValueError(f"dt_s must be non-negative, got {dt_s}")
        left = np.where(self.speeds_mps > 0, float(dt_s), 0.0)  # time still to spend
        # Whole-array operations (a masked no-op for idle users) are cheaper than gathering
        # the busy users at every leg; only arrivals, which are rare, are handled by index.
        for _ in range(MAX_WAYPOINT_LEGS):
            if not left.any():
                break
            if self.pause_s > 0:  # pausing users spend their time at the waypoint first
                pause = np.minimum(self.pause_left_s, left)
                self.pause_left_s -= pause
                left -= pause
            moving = left > 0
            if not moving.any():
                continue
            delta = self.waypoints - self.positions
            distance = np.hypot(delta[:, 0], delta[:, 1])
            reach = self.speeds_mps * left
            arrive = moving & (reach >= distance)
            # The others walk the whole remaining time along their heading.
            walk = moving & ~arrive
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(walk, reach / distance, 0.0)
            self.positions += frac[:, None] * delta
            left[walk] = 0.0
            if arrive.any():
                # Those who arrive stop at the waypoint, keep the leftover time, then pause.
                arrived = np.flatnonzero(arrive)
                self.positions[arrived] = self.waypoints[arrived]
                left[arrived] -= distance[arrived] / self.speeds_mps[arrived]
                self.pause_left_s[arrived] = self.pause_s
                self.waypoints[arrived] = self._draw_waypoints(arrived.size)
        np.clip(self.positions, 0.0, self.size, out=self.positions)  # round-off only
        return self.positions
