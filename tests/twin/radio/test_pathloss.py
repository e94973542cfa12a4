"""Path loss, LOS probability and UMa's effective environment height against TR 38.901's
formulas (Tables 7.4.1-1 and 7.4.2-1), written out here independently of the code."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.radio.pathloss import (
    default_shadowing_std_db,
    los_probability,
    path_loss_db,
    uma_c,
    uma_elevated_choices,
    uma_environment_height_m,
)

C = 299_792_458.0
H_BS, H_UT, FC = 25.0, 1.5, 3.5


def d3(d2d: float, h_bs: float = H_BS, h_ut: float = H_UT) -> float:
    return math.hypot(d2d, h_bs - h_ut)


def breakpoint_m(h_bs: float, h_ut: float, fc_ghz: float, h_e: float = 1.0) -> float:
    return 4 * (h_bs - h_e) * (h_ut - h_e) * fc_ghz * 1e9 / C


def pl(model: str, d2d: float, los: bool, h_bs: float = H_BS) -> float:
    return float(path_loss_db(model, d2d, d3(d2d, h_bs), h_bs, H_UT, FC, los))


def spec_uma_los_db(d2d: float, h_ut: float, h_e: float, h_bs: float = H_BS) -> float:
    """Table 7.4.1-1, UMa LOS, from the table."""
    d3d = d3(d2d, h_bs, h_ut)
    d_bp = breakpoint_m(h_bs, h_ut, FC, h_e)
    if d2d <= d_bp:
        return 28.0 + 22 * math.log10(d3d) + 20 * math.log10(FC)
    return (
        28.0 + 40 * math.log10(d3d) + 20 * math.log10(FC)
        - 9 * math.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    )  # fmt: skip


def spec_c(d2d: float, h_ut: float) -> float:
    """Table 7.4.1-1 note 1: C(d2D, h_UT) with g(d2D)."""
    g = 0.0 if d2d <= 18 else 5 / 4 * (d2d / 100) ** 3 * math.exp(-d2d / 150)
    if h_ut < 13:
        return 0.0
    return ((h_ut - 13) / 10) ** 1.5 * g


# --------------------------------------------------------------------------- LOS probability


def test_uma_los_probability_matches_table_7_4_2_1():
    d = 100.0
    expected = 18 / d + math.exp(-d / 63) * (1 - 18 / d)
    assert float(los_probability("uma", d, 1.5)) == pytest.approx(expected)


def test_uma_los_probability_includes_c_prime_for_tall_users():
    d, h = 100.0, 20.0
    c_prime = ((h - 13) / 10) ** 1.5
    expected = (18 / d + math.exp(-d / 63) * (1 - 18 / d)) * (
        1 + c_prime * 5 / 4 * (d / 100) ** 3 * math.exp(-d / 150)
    )
    assert float(los_probability("uma", d, h)) == pytest.approx(expected)


def test_umi_los_probability_matches_table_7_4_2_1():
    d = 50.0
    expected = 18 / d + math.exp(-d / 36) * (1 - 18 / d)
    assert float(los_probability("umi", d, 1.5)) == pytest.approx(expected)


def test_los_probability_is_one_within_18_m():
    np.testing.assert_array_equal(los_probability("uma", np.array([1.0, 18.0]), 1.5), [1, 1])
    np.testing.assert_array_equal(los_probability("umi", np.array([0.0, 10.0]), 1.5), [1, 1])


def test_log_distance_links_are_all_los():
    np.testing.assert_array_equal(los_probability("log_distance", np.full((3, 2), 900.0), 1.5), 1)


# --------------------------------------------------------------------------- path loss


def test_uma_los_below_breakpoint_is_pl1():
    d = 100.0
    assert d < breakpoint_m(H_BS, H_UT, FC)
    expected = 28.0 + 22 * math.log10(d3(d)) + 20 * math.log10(FC)
    assert pl("uma", d, True) == pytest.approx(expected)


def test_uma_los_above_breakpoint_is_pl2():
    d = 1500.0
    d_bp = breakpoint_m(H_BS, H_UT, FC)
    assert d > d_bp
    expected = (
        28.0 + 40 * math.log10(d3(d)) + 20 * math.log10(FC)
        - 9 * math.log10(d_bp**2 + (H_BS - H_UT) ** 2)
    )  # fmt: skip
    assert pl("uma", d, True) == pytest.approx(expected)


def test_uma_nlos_is_the_nlos_formula_when_it_exceeds_los():
    d = 300.0
    nlos = 13.54 + 39.08 * math.log10(d3(d)) + 20 * math.log10(FC) - 0.6 * (H_UT - 1.5)
    assert nlos > pl("uma", d, True)
    assert pl("uma", d, False) == pytest.approx(nlos)


def test_umi_los_below_and_above_breakpoint():
    h_bs = 10.0
    d_bp = breakpoint_m(h_bs, H_UT, FC)
    near, far = 50.0, 500.0
    assert near < d_bp < far
    pl1 = 32.4 + 21 * math.log10(d3(near, h_bs)) + 20 * math.log10(FC)
    pl2 = (
        32.4 + 40 * math.log10(d3(far, h_bs)) + 20 * math.log10(FC)
        - 9.5 * math.log10(d_bp**2 + (h_bs - H_UT) ** 2)
    )  # fmt: skip
    assert pl("umi", near, True, h_bs) == pytest.approx(pl1)
    assert pl("umi", far, True, h_bs) == pytest.approx(pl2)


def test_umi_nlos_is_the_nlos_formula_when_it_exceeds_los():
    h_bs, d = 10.0, 200.0
    nlos = 35.3 * math.log10(d3(d, h_bs)) + 22.4 + 21.3 * math.log10(FC) - 0.3 * (H_UT - 1.5)
    assert nlos > pl("umi", d, True, h_bs)
    assert pl("umi", d, False, h_bs) == pytest.approx(nlos)


def test_nlos_loss_is_never_below_los_loss():
    d = np.geomspace(10, 5000, 200)
    for model in ("uma", "umi"):
        los = path_loss_db(model, d, np.hypot(d, 23.5), 25.0, 1.5, 3.5, True)
        nlos = path_loss_db(model, d, np.hypot(d, 23.5), 25.0, 1.5, 3.5, False)
        assert np.all(nlos >= los)


def test_3gpp_distances_below_10_m_are_clamped_to_10_m():
    assert pl("uma", 2.0, True) == pytest.approx(pl("uma", 10.0, True))


def test_log_distance_defaults_to_free_space_at_the_reference_distance():
    fspl_1m = 20 * math.log10(4 * math.pi * 1.0 * FC * 1e9 / C)
    got = path_loss_db("log_distance", 100.0, 100.0, H_BS, H_UT, FC, True, exponent=3.5)
    assert float(got) == pytest.approx(fspl_1m + 35 * math.log10(100.0))


def test_log_distance_uses_the_given_reference_loss_and_clamps_below_d0():
    kw = {"exponent": 3.0, "ref_distance_m": 10.0, "ref_loss_db": 60.0}
    got = path_loss_db("log_distance", np.array([5.0, 100.0]), np.array([5.0, 100.0]),
                       H_BS, H_UT, FC, True, **kw)  # fmt: skip
    np.testing.assert_allclose(got, [60.0, 90.0])


def test_path_loss_is_vectorized_over_users_and_bs():
    d2d = np.array([[50.0, 500.0, 2000.0], [20.0, 80.0, 900.0]])
    los = np.array([[True, False, True], [False, True, False]])
    got = path_loss_db("uma", d2d, np.hypot(d2d, 23.5), 25.0, 1.5, 3.5, los)
    assert got.shape == (2, 3)
    for (i, j), d in np.ndenumerate(d2d):
        assert got[i, j] == pytest.approx(pl("uma", d, bool(los[i, j])))


def test_default_shadowing_std_is_the_38_901_value():
    los = np.array([True, False])
    np.testing.assert_array_equal(default_shadowing_std_db("uma", los), [4.0, 6.0])
    np.testing.assert_array_equal(default_shadowing_std_db("umi", los), [4.0, 7.82])
    np.testing.assert_array_equal(default_shadowing_std_db("log_distance", los), [8.0, 8.0])


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="allowed: log_distance, uma, umi"):
        path_loss_db("rma", 100.0, 100.0, 25.0, 1.5, 3.5, True)


# --------------------------------------------------------------------------- UMa's h_E

DISTANCES_M = (10.0, 18.0, 18.5, 50.0, 150.0, 300.0, 450.0, 800.0, 2000.0)
HEIGHTS_M = (1.5, 10.0, 13.0, 13.5, 15.0, 17.0, 20.0, 22.5)


def test_c_matches_note_1_on_a_grid_of_distances_and_heights():
    for h in HEIGHTS_M:
        for d in DISTANCES_M:
            assert float(uma_c(d, h)) == pytest.approx(spec_c(d, h), rel=1e-12, abs=1e-15)


def test_the_elevated_h_e_values_are_12_15_up_to_h_ut_minus_1_5():
    def spec_set(h_ut: float) -> list[float]:
        return [v for v in np.arange(12.0, 30.0, 3.0) if v <= h_ut - 1.5 + 1e-9]

    for h in HEIGHTS_M:
        assert uma_elevated_choices(h) == len(spec_set(h)), h
    u_pick = (np.arange(1000) + 0.5) / 1000  # evenly spread: each value gets its share
    values = uma_environment_height_m(np.full(1000, 300.0), 22.5, np.ones(1000), u_pick)
    assert sorted(set(values)) == spec_set(22.5) == [12.0, 15.0, 18.0, 21.0]
    assert np.all(np.unique(values, return_counts=True)[1] == 250)


def test_h_e_is_1_m_with_probability_one_over_one_plus_c():
    rng = np.random.default_rng(20)
    n = 200_000
    for h in (15.0, 17.0, 22.5):
        for d in (50.0, 300.0, 800.0):
            u = rng.uniform(size=(2, n))
            h_e = uma_environment_height_m(np.full(n, d), h, u[0], u[1])
            p = 1 / (1 + spec_c(d, h))
            se = math.sqrt(p * (1 - p) / n)
            assert np.mean(h_e == 1.0) == pytest.approx(p, abs=5 * se + 1e-12), (h, d)
            elevated = h_e[h_e != 1.0]
            if elevated.size:
                counts = np.unique(elevated, return_counts=True)[1]
                k = uma_elevated_choices(h)
                share_se = math.sqrt((1 / k) * (1 - 1 / k) / elevated.size)
                np.testing.assert_allclose(counts / elevated.size, 1 / k, atol=5 * share_se)


def test_users_below_13_m_always_have_h_e_1_m():
    d = np.array([20.0, 300.0, 1000.0])
    for h in (1.5, 10.0, 12.9, 13.2):
        np.testing.assert_array_equal(uma_environment_height_m(d, h, 0.999, 0.5), 1.0)


def test_uma_los_path_loss_with_each_h_e_matches_the_table():
    for h_ut in (1.5, 13.5, 17.0, 22.5):
        for h_e in [1.0] + [12.0 + 3 * k for k in range(uma_elevated_choices(h_ut))]:
            for d in DISTANCES_M[3:]:
                got = path_loss_db("uma", d, d3(d, H_BS, h_ut), H_BS, h_ut, FC, True, h_e_m=h_e)
                assert float(got) == pytest.approx(spec_uma_los_db(d, h_ut, h_e)), (h_ut, h_e, d)


def test_an_elevated_h_e_moves_the_breakpoint_in():
    # h_UT = 17 m: h_E = 1 m puts d'_BP at ~18 km; h_E = 15 m at ~930 m, so at 5 km the
    # link is far past the breakpoint and loses ~13 dB more (the measured error).
    d, h_ut = 5000.0, 17.0
    far = [float(path_loss_db("uma", d, d3(d, H_BS, h_ut), H_BS, h_ut, FC, True, h_e_m=h_e))
           for h_e in (1.0, 15.0)]  # fmt: skip
    assert breakpoint_m(H_BS, h_ut, FC, 15.0) < d < breakpoint_m(H_BS, h_ut, FC, 1.0)
    assert far[1] - far[0] == pytest.approx(
        spec_uma_los_db(d, h_ut, 15.0) - spec_uma_los_db(d, h_ut, 1.0)
    )
    assert far[1] - far[0] > 12.0


def test_path_loss_takes_h_e_per_link():
    d = np.array([[500.0, 3000.0]])
    h_e = np.array([[1.0, 15.0]])
    got = path_loss_db("uma", d, np.hypot(d, 8.0), H_BS, 17.0, FC, True, h_e_m=h_e)
    expected = [spec_uma_los_db(500.0, 17.0, 1.0), spec_uma_los_db(3000.0, 17.0, 15.0)]
    np.testing.assert_allclose(got[0], expected)
