"""Placement and random-waypoint mobility."""

from __future__ import annotations

import numpy as np
import pytest

from twin.radio.mobility import RandomWaypoint, place_base_stations, place_users
from twin.scenario.schema import Area, BaseStations, Users

AREA = Area(width_m=1000.0, height_m=600.0)


def inside(points: np.ndarray, area: Area = AREA) -> bool:
    return bool(
        np.all(points >= 0) and np.all(points[:, 0] <= area.width_m)
        and np.all(points[:, 1] <= area.height_m)
    )  # fmt: skip


def min_distance(points: np.ndarray, bs: np.ndarray) -> float:
    return float(np.min(np.linalg.norm(points[:, None, :] - bs[None, :, :], axis=-1)))


# --------------------------------------------------------------------------- base stations


@pytest.mark.parametrize("layout", ["grid", "hexagonal", "random"])
@pytest.mark.parametrize("count", [1, 2, 7, 19, 20, 57])
def test_layouts_place_exactly_count_bs_inside_the_area(layout, count):
    bs = place_base_stations(
        BaseStations(layout=layout, count=count), AREA, np.random.default_rng(0)
    )
    assert bs.shape == (count, 2)
    assert inside(bs)
    assert len(np.unique(bs, axis=0)) == count


def test_grid_of_nine_in_a_square_is_three_by_three_cell_centres():
    bs = place_base_stations(
        BaseStations(layout="grid", count=9), Area(width_m=300, height_m=300),
        np.random.default_rng(0),
    )  # fmt: skip
    expected = [(x, y) for y in (50, 150, 250) for x in (50, 150, 250)]
    np.testing.assert_allclose(bs, expected)


def test_hexagonal_odd_rows_are_offset_by_half_a_spacing():
    bs = place_base_stations(
        BaseStations(layout="hexagonal", count=12), Area(width_m=400, height_m=400),
        np.random.default_rng(0),
    )  # fmt: skip
    rows = [np.sort(bs[bs[:, 1] == y, 0]) for y in np.unique(bs[:, 1])]
    assert len(rows) > 1
    spacing = rows[0][1] - rows[0][0]
    assert rows[1][0] - rows[0][0] == pytest.approx(spacing / 2)


def test_list_layout_returns_the_given_positions():
    spec = BaseStations(layout="list", positions_m=[(1.0, 2.0), (3.0, 4.0)])
    np.testing.assert_array_equal(
        place_base_stations(spec, AREA, np.random.default_rng(0)), [[1, 2], [3, 4]]
    )


# --------------------------------------------------------------------------- users


@pytest.mark.parametrize("placement", ["uniform", "near_bs"])
def test_users_keep_the_minimum_distance_from_every_bs_inside_the_area(placement):
    bs = place_base_stations(BaseStations(layout="grid", count=12), AREA, np.random.default_rng(0))
    spec = Users(count=3000, placement=placement, min_bs_distance_m=35.0, cluster_radius_m=80.0)
    users = place_users(spec, bs, AREA, np.random.default_rng(1))
    assert users.shape == (3000, 2)
    assert inside(users)
    assert min_distance(users, bs) >= 35.0


def test_near_bs_users_stay_within_the_cluster_radius_of_some_bs():
    bs = np.array([[200.0, 300.0], [800.0, 300.0]])
    spec = Users(count=2000, placement="near_bs", cluster_radius_m=50.0, min_bs_distance_m=0)
    users = place_users(spec, bs, AREA, np.random.default_rng(2))
    nearest = np.min(np.linalg.norm(users[:, None] - bs[None], axis=-1), axis=1)
    assert np.all(nearest <= 50.0 + 1e-9)


def test_impossible_minimum_distance_is_a_clear_error():
    bs = np.array([[500.0, 300.0]])
    spec = Users(count=10, min_bs_distance_m=5000.0)
    with pytest.raises(ValueError, match="min_bs_distance_m"):
        place_users(spec, bs, AREA, np.random.default_rng(3))


def test_same_seed_places_users_identically():
    bs = np.array([[500.0, 300.0]])
    spec = Users(count=100, placement="near_bs")
    a = place_users(spec, bs, AREA, np.random.default_rng(4))
    b = place_users(spec, bs, AREA, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- random waypoint


def walker(speeds: np.ndarray, pause_s: float = 0.0, seed: int = 5) -> RandomWaypoint:
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 1, (len(speeds), 2)) * [AREA.width_m, AREA.height_m]
    return RandomWaypoint(rng, start, AREA.width_m, AREA.height_m, speeds, pause_s)


def test_random_waypoint_moves_each_user_at_most_speed_times_dt_and_stays_inside():
    speeds = np.random.default_rng(6).uniform(0.5, 40.0, 500)
    rwp = walker(speeds, pause_s=0.3)
    for _ in range(200):
        before = rwp.positions.copy()
        after = rwp.step(0.5)
        assert np.all(np.linalg.norm(after - before, axis=1) <= speeds * 0.5 + 1e-9)
        assert inside(after)


def test_random_waypoint_without_pause_moves_exactly_speed_times_dt_between_waypoints():
    rwp = walker(np.array([2.0]))
    start = rwp.positions.copy()
    distance_to_waypoint = np.linalg.norm(rwp.waypoints[0] - start[0])
    assert distance_to_waypoint > 2.0  # the drawn waypoint is far enough for this check
    rwp.step(1.0)
    assert np.linalg.norm(rwp.positions[0] - start[0]) == pytest.approx(2.0)


def test_users_of_speed_zero_never_move():
    rwp = walker(np.array([0.0, 5.0, 0.0]))
    start = rwp.positions.copy()
    for _ in range(50):
        rwp.step(1.0)
    np.testing.assert_array_equal(rwp.positions[[0, 2]], start[[0, 2]])
    assert not np.array_equal(rwp.positions[1], start[1])


def test_users_reach_waypoints_and_pause_there():
    rwp = walker(np.array([1000.0]), pause_s=10.0)
    rwp.step(5.0)  # fast enough to arrive within the step, then pause
    paused_at = rwp.positions.copy()
    rwp.step(4.0)
    np.testing.assert_array_equal(rwp.positions, paused_at)
    rwp.step(3.0)  # arrival took < 1.2 s, so the pause has ended
    assert not np.array_equal(rwp.positions, paused_at)
