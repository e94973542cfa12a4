"""RadioNetwork: layout vs process randomness, explicit mode, association, time evolution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import j0

from twin.radio.channel import los_probability, path_loss_db, thermal_noise_mw
from twin.radio.network import RadioNetwork
from twin.scenario.schema import Scenario


def scenario(**overrides) -> Scenario:
    spec = {
        "name": "net",
        "area": {"width_m": 800, "height_m": 800},
        "base_stations": {"layout": "hexagonal", "count": 7},
        "users": {"count": 60, "speed_mps": [0.0, 20.0]},
    }
    spec.update(overrides)
    return Scenario.model_validate(spec)


def network(sc: Scenario, layout_seed: int = 0, process_seed: int = 1) -> RadioNetwork:
    return RadioNetwork(sc, np.random.default_rng(layout_seed), np.random.default_rng(process_seed))


def test_same_seeds_give_identical_gains_bit_for_bit():
    sc = scenario(users={"count": 60, "mobility": "random_waypoint", "speed_mps": 5.0})
    a, b = network(sc), network(sc)
    for _ in range(5):
        a.advance(0.1)
        b.advance(0.1)
    np.testing.assert_array_equal(a.gains(), b.gains())
    np.testing.assert_array_equal(a.positions, b.positions)


def test_same_layout_seed_and_other_process_seed_share_the_layout_not_the_channel():
    sc = scenario(base_stations={"layout": "random", "count": 7})
    a, b = network(sc, 0, 1), network(sc, 0, 2)
    np.testing.assert_array_equal(a.bs_positions, b.bs_positions)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.speeds_mps, b.speeds_mps)
    assert not np.array_equal(a.gains(), b.gains())


def test_other_layout_seed_moves_the_users():
    sc = scenario()
    assert not np.array_equal(network(sc, 0).positions, network(sc, 5).positions)


def test_explicit_mode_returns_the_scenario_gains():
    gains = [[1.4e-12], [1.0e-12]]
    sc = scenario(
        base_stations={"layout": "list", "positions_m": [[100, 100]]},
        users={"placement": "list", "positions_m": [[60, 100], [140, 100]]},
        channel={"mode": "explicit", "gains": gains, "fading": {"model": "none"}},
    )
    net = network(sc)
    net.advance(0.1)
    np.testing.assert_array_equal(net.gains(), gains)
    np.testing.assert_array_equal(net.large_scale_gain(), gains)
    with pytest.raises(ValueError, match="no geometry in explicit mode"):
        net.large_scale_gain_at(np.array([[0.0, 0.0]]))


def test_strongest_association_is_the_argmax_of_large_scale_gain():
    net = network(scenario())
    np.testing.assert_array_equal(net.association(), np.argmax(net.large_scale_gain(), axis=1))


def test_nearest_association_is_the_closest_bs():
    net = network(scenario(users={"count": 60, "association": "nearest"}))
    distance = np.linalg.norm(net.positions[:, None] - net.bs_positions[None], axis=-1)
    np.testing.assert_array_equal(net.association(), np.argmin(distance, axis=1))


def test_listed_association_is_used_as_given():
    assoc = [0, 1, 0]
    net = network(scenario(users={"count": 3, "association": assoc}, base_stations={
        "layout": "grid", "count": 2}))  # fmt: skip
    np.testing.assert_array_equal(net.association(), assoc)


def test_noise_is_thermal_unless_overridden():
    assert network(scenario()).noise_mw == pytest.approx(thermal_noise_mw(1e6, 7.0))
    override = scenario(channel={"noise": {"noise_mw": 2e-10}})
    assert network(override).noise_mw == 2e-10


def test_large_scale_gain_without_shadowing_is_the_path_loss():
    sc = scenario(channel={"path_loss": {"model": "uma"}, "shadowing": {"enabled": False}})
    net = network(sc)
    d2d = np.linalg.norm(net.positions[:, None] - net.bs_positions[None], axis=-1)
    d3d = np.hypot(d2d, 25.0 - 1.5)
    loss_los = path_loss_db("uma", d2d, d3d, 25.0, 1.5, 3.5, True)
    loss_nlos = path_loss_db("uma", d2d, d3d, 25.0, 1.5, 3.5, False)
    loss = -10 * np.log10(net.large_scale_gain())
    # Every link takes one of its two states; links within 18 m of a BS are surely LOS.
    is_los = np.isclose(loss, loss_los)
    assert np.all(is_los | np.isclose(loss, loss_nlos))
    assert np.all(is_los[los_probability("uma", d2d, 1.5) == 1.0])


def test_shadowing_spreads_the_loss_by_the_scenario_std():
    base = {"path_loss": {"model": "log_distance"}, "fading": {"model": "none"}}
    users = {"count": 2000, "min_bs_distance_m": 0}
    plain = network(scenario(users=users, channel={**base, "shadowing": {"enabled": False}}))
    shadowed = network(scenario(users=users, channel={**base, "shadowing": {"std_db": 5.0}}))
    delta_db = 10 * np.log10(plain.gains() / shadowed.gains())
    assert delta_db.std() == pytest.approx(5.0, rel=0.1)


def test_probe_gain_at_user_positions_matches_large_scale_gain_for_log_distance():
    # log_distance links are all LOS, so the probe and the users take the same state.
    net = network(scenario(channel={"path_loss": {"model": "log_distance"}}))
    np.testing.assert_allclose(net.large_scale_gain_at(net.positions), net.large_scale_gain())


def test_static_users_keep_their_large_scale_gain_while_fading_changes():
    net = network(scenario())
    large, gains = net.large_scale_gain(), net.gains()
    net.advance(0.5)
    assert net.large_scale_gain() is large
    assert not np.array_equal(net.gains(), gains)
    assert net.time_s == pytest.approx(0.5)


def test_mobile_users_move_and_their_large_scale_gain_follows():
    net = network(scenario(users={"count": 60, "mobility": "random_waypoint", "speed_mps": 10.0}))
    start, large = net.positions.copy(), net.large_scale_gain()
    net.advance(1.0)
    moved = np.linalg.norm(net.positions - start, axis=1)
    assert np.all(moved > 0) and np.all(moved <= 10.0 + 1e-9)
    assert not np.array_equal(net.large_scale_gain(), large)


def test_gains_handed_out_are_read_only_snapshots():
    net = network(scenario())
    gains = net.gains()
    snapshot = gains.copy()
    with pytest.raises(ValueError):
        gains[0, 0] = 1.0
    net.advance(0.1)
    np.testing.assert_array_equal(gains, snapshot)


def test_fading_correlation_follows_the_user_speed():
    # Static users at 0 m/s: rho = J0(0) = 1, so fading is frozen.
    net = network(scenario(users={"count": 20, "speed_mps": 0.0}))
    before = net.gains()
    net.advance(0.1)
    np.testing.assert_array_equal(net.gains(), before)


def test_gains_shape_and_positivity():
    net = network(scenario())
    assert net.gains().shape == (net.n_users, net.n_bs) == (60, 7)
    assert np.all(net.gains() > 0) and np.all(np.isfinite(net.gains()))
    assert net.large_scale_gain_at(np.array([[1.0, 2.0], [400.0, 400.0]])).shape == (2, 7)
    assert math.isfinite(net.noise_mw)


# --------------------------------------------------------------------------- 38.901 state


def tall_users(**channel) -> Scenario:
    """UMa with 17 m users (h_E can be 1, 12 or 15 m), no shadowing or fading."""
    base = {"path_loss": {"model": "uma"}, "shadowing": {"enabled": False},
            "fading": {"model": "none"}}  # fmt: skip
    return scenario(
        area={"width_m": 4000, "height_m": 4000},
        users={"count": 400, "height_m": 17.0, "mobility": "random_waypoint", "speed_mps": 3.0},
        channel={**base, **channel},
    )


def spec_h_e(d2d: np.ndarray, h_ut: float, u_class: np.ndarray, u_pick: np.ndarray) -> np.ndarray:
    """Table 7.4.1-1 note 1, written out: 1 m with probability 1/(1 + C), else uniform over
    12, 15, ..., h_UT - 1.5 (here 12 and 15)."""
    g = np.where(d2d <= 18, 0.0, 1.25 * (d2d / 100) ** 3 * np.exp(-d2d / 150))
    c = ((h_ut - 13) / 10) ** 1.5 * g
    return np.where(u_class < 1 / (1 + c), 1.0, np.where(u_pick < 0.5, 12.0, 15.0))


def test_tall_uma_users_draw_h_e_per_link_and_the_loss_follows_it():
    net = network(tall_users())
    assert net.draws_environment_height
    los_draw, env_draw = net._los_draw, net._env_draw
    d2d = np.linalg.norm(net.positions[:, None] - net.bs_positions[None], axis=-1)
    d3d = np.hypot(d2d, 25.0 - 17.0)
    h_e = spec_h_e(d2d, 17.0, env_draw[0], env_draw[1])
    assert 0.05 < np.mean(h_e > 1) < 0.95  # both classes occur in this geometry
    los = los_draw < los_probability("uma", d2d, 17.0)
    expected = path_loss_db("uma", d2d, d3d, 25.0, 17.0, 3.5, los, h_e_m=h_e)
    np.testing.assert_allclose(-10 * np.log10(net.large_scale_gain()), expected)
    # Drawn from the uniforms' law: the share of 1 m links is the mean of 1/(1 + C).
    g = np.where(d2d <= 18, 0.0, 1.25 * (d2d / 100) ** 3 * np.exp(-d2d / 150))
    p_one = 1 / (1 + (0.4**1.5) * g)
    se = math.sqrt(np.mean(p_one * (1 - p_one)) / p_one.size)
    assert np.mean(h_e == 1.0) == pytest.approx(p_one.mean(), abs=5 * se)


def test_a_links_h_e_persists_while_its_class_does():
    net = network(tall_users())
    env = net._env_draw.copy()
    classes, values = [], []
    for _ in range(30):
        d2d = np.linalg.norm(net.positions[:, None] - net.bs_positions[None], axis=-1)
        h_e = spec_h_e(d2d, 17.0, env[0], env[1])
        classes.append(h_e > 1)
        values.append(h_e)
        net.advance(1.0)
    classes, values = np.array(classes), np.array(values)
    np.testing.assert_array_equal(net._env_draw, env)  # drawn once, kept
    # Some links change class as their users walk; whenever a link is elevated it has the
    # same elevated value, all run long.
    assert np.any(classes.any(axis=0) & ~classes.all(axis=0))
    highest = np.where(classes, values, -np.inf).max(axis=0)
    lowest = np.where(classes, values, np.inf).min(axis=0)
    ever = classes.any(axis=0)
    np.testing.assert_array_equal(highest[ever], lowest[ever])
    assert np.all(values[~classes] == 1.0)


def test_short_users_draw_no_h_e_so_their_streams_are_unchanged():
    net = network(scenario(users={"count": 20, "height_m": 13.0}))
    assert not net.draws_environment_height and net._env_draw is None
    assert not network(tall_users(path_loss={"model": "umi"})).draws_environment_height


def test_a_probe_takes_the_median_h_e_draw_and_a_sample_needs_its_draws():
    net = network(tall_users())
    points = np.array([[100.0, 3000.0], [2500.0, 700.0]])
    d2d = np.linalg.norm(points[:, None] - net.bs_positions[None], axis=-1)
    h_e = spec_h_e(d2d, 17.0, np.full(d2d.shape, 0.5), np.full(d2d.shape, 0.5))
    los = los_probability("uma", d2d, 17.0) >= 0.5
    expected = path_loss_db("uma", d2d, np.hypot(d2d, 8.0), 25.0, 17.0, 3.5, los, h_e_m=h_e)
    np.testing.assert_allclose(-10 * np.log10(net.large_scale_gain_at(points)), expected)
    with pytest.raises(ValueError, match="env_draw"):
        net.large_scale_gain_at(points, np.full(d2d.shape, 0.5))
    los_draw, env_draw = net.draw_link_states(np.random.default_rng(0), 2)
    assert env_draw is not None and env_draw.shape == (2, 2, 7)
    assert net.large_scale_gain_at(points, los_draw, env_draw).shape == (2, 7)


def test_shadowing_decorrelation_defaults_per_model_and_los_state():
    def fields(**channel):
        net = network(scenario(channel=channel))
        nlos = net._shadowing_nlos
        return net._shadowing.decorrelation_m, None if nlos is None else nlos.decorrelation_m

    assert fields(path_loss={"model": "uma"}) == (37.0, 50.0)
    assert fields(path_loss={"model": "umi"}) == (10.0, 13.0)
    assert fields(path_loss={"model": "log_distance"}) == (50.0, None)
    assert fields(path_loss={"model": "umi"}, shadowing={"decorrelation_m": 20}) == (20.0, None)


def test_each_link_reads_the_field_of_its_los_state():
    sc = scenario(channel={"path_loss": {"model": "umi"}, "fading": {"model": "none"},
                           "shadowing": {"std_db": 5.0}})  # fmt: skip
    net = network(sc)
    d2d = np.linalg.norm(net.positions[:, None] - net.bs_positions[None], axis=-1)
    los = net._los_draw < los_probability("umi", d2d, 1.5)
    assert 0 < los.mean() < 1
    plain = path_loss_db("umi", d2d, np.hypot(d2d, 23.5), 25.0, 1.5, 3.5, los)
    shadow_db = -10 * np.log10(net.large_scale_gain()) - plain
    field = np.where(los, net._shadowing.sample(net.positions),
                     net._shadowing_nlos.sample(net.positions))  # fmt: skip
    np.testing.assert_allclose(shadow_db, 5.0 * field, atol=1e-9)


def test_the_fading_of_the_network_decorrelates_as_j0_of_the_user_doppler():
    # Every user at 10 m/s, 3.5 GHz: f_d = 116.7 Hz; one 2 ms step: J0(1.47) = 0.51.
    sc = scenario(
        users={"count": 2000, "speed_mps": 10.0},
        area={"width_m": 3000, "height_m": 3000},
        base_stations={"layout": "hexagonal", "count": 20},
    )
    net = network(sc)
    h0 = net.fading.h
    net.advance(0.002)
    products = (net.fading.h * h0.conj()).real.ravel()
    expected = j0(2 * math.pi * 10.0 * 3.5e9 / 299_792_458.0 * 0.002)
    assert products.mean() == pytest.approx(expected, abs=5 * products.std() / math.sqrt(40_000))
