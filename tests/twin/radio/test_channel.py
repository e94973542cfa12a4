"""Channel maths against published formulas and closed-form statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.radio import channel
from twin.radio.channel import (
    FadingProcess,
    ShadowingField,
    default_shadowing_std_db,
    doppler_hz,
    gauss_markov_rho,
    los_probability,
    path_loss_db,
    thermal_noise_mw,
)

C = 299_792_458.0
H_BS, H_UT, FC = 25.0, 1.5, 3.5


def bessel_j0(x: float) -> float:
    """J0 from its integral form (1/pi) int_0^pi cos(x sin t) dt, independent of scipy."""
    t = np.linspace(0.0, math.pi, 20001)
    return float(np.trapezoid(np.cos(x * np.sin(t)), t) / math.pi)


def d3(d2d: float, h_bs: float = H_BS, h_ut: float = H_UT) -> float:
    return math.hypot(d2d, h_bs - h_ut)


def breakpoint_m(h_bs: float, h_ut: float, fc_ghz: float) -> float:
    return 4 * (h_bs - 1) * (h_ut - 1) * fc_ghz * 1e9 / C


def pl(model: str, d2d: float, los: bool, h_bs: float = H_BS) -> float:
    return float(path_loss_db(model, d2d, d3(d2d, h_bs), h_bs, H_UT, FC, los))


# --------------------------------------------------------------------------- noise, Doppler


def test_thermal_noise_at_1mhz_and_0db_figure_is_minus_114_dbm():
    assert 10 * math.log10(thermal_noise_mw(1e6, 0.0)) == pytest.approx(-113.98, abs=0.03)


def test_thermal_noise_adds_the_noise_figure_in_db():
    ratio_db = 10 * math.log10(thermal_noise_mw(20e6, 7.0) / thermal_noise_mw(1e6, 0.0))
    assert ratio_db == pytest.approx(10 * math.log10(20) + 7.0)


def test_doppler_is_speed_times_carrier_over_c():
    assert doppler_hz(30.0, 3.5) == pytest.approx(30.0 * 3.5e9 / C)
    np.testing.assert_allclose(doppler_hz(np.array([0.0, 1.0]), 2.0), [0.0, 2e9 / C])


def test_gauss_markov_rho_is_bessel_j0_of_two_pi_fd_dt():
    assert float(gauss_markov_rho(100.0, 0.002)) == pytest.approx(
        bessel_j0(2 * math.pi * 100.0 * 0.002), abs=1e-6
    )


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


# --------------------------------------------------------------------------- fading


def test_fading_lag_one_correlation_is_j0():
    rho = float(gauss_markov_rho(doppler_hz(10.0, 3.5), 0.002))
    fading = FadingProcess(np.random.default_rng(1), 2000, 50, "rayleigh")
    before = fading.h
    fading.step(np.full(2000, rho))
    after = fading.h
    corr = np.mean(after * before.conj()).real / np.mean(np.abs(before) ** 2)
    assert corr == pytest.approx(bessel_j0(2 * math.pi * 10.0 * 3.5e9 / C * 0.002), abs=0.02)


def test_fading_rho_is_per_user():
    fading = FadingProcess(np.random.default_rng(2), 2, 50_000, "rayleigh")
    before = fading.h
    fading.step(np.array([1.0, 0.0]))
    after = fading.h
    np.testing.assert_array_equal(after[0], before[0])  # rho = 1: frozen
    assert abs(np.mean(after[1] * before[1].conj())) < 0.02  # rho = 0: fresh


def test_rayleigh_power_has_mean_one_after_many_steps():
    fading = FadingProcess(np.random.default_rng(3), 1000, 100, "rayleigh")
    for _ in range(20):
        fading.step(0.7)
    assert fading.power().mean() == pytest.approx(1.0, abs=0.01)


def test_rayleigh_power_is_exponential():
    power = FadingProcess(np.random.default_rng(4), 1000, 100, "rayleigh").power()
    assert np.mean(power < 1.0) == pytest.approx(1 - math.exp(-1), abs=0.005)
    assert np.mean(power < 0.1) == pytest.approx(1 - math.exp(-0.1), abs=0.005)


def test_rician_power_has_mean_one_and_the_k_factor():
    fading = FadingProcess(np.random.default_rng(5), 1000, 100, "rician", k_factor_db=9.0)
    for _ in range(10):
        fading.step(0.5)
    power = fading.power()
    # |h|^2 = |a + b z|^2, a^2 = K/(K+1), b^2 = 1/(K+1): Var = (1 + 2K) / (K + 1)^2, so
    # K = ((1 - v) + sqrt(1 - v)) / v.
    v = power.var()
    k_hat = ((1 - v) + math.sqrt(1 - v)) / v
    assert power.mean() == pytest.approx(1.0, abs=0.01)
    assert 10 * math.log10(k_hat) == pytest.approx(9.0, abs=0.3)


def test_no_fading_has_unit_power_and_draws_nothing():
    rng = np.random.default_rng(6)
    state = rng.bit_generator.state
    fading = FadingProcess(rng, 3, 2, "none")
    fading.step(0.3)
    np.testing.assert_array_equal(fading.power(), np.ones((3, 2)))
    assert rng.bit_generator.state == state


def test_same_seed_gives_the_same_fading():
    a = FadingProcess(np.random.default_rng(7), 10, 4, "rician")
    b = FadingProcess(np.random.default_rng(7), 10, 4, "rician")
    a.step(0.9)
    b.step(0.9)
    np.testing.assert_array_equal(a.power(), b.power())


# --------------------------------------------------------------------------- shadowing

DCORR = 40.0
SIDE = 2000.0


@pytest.fixture(scope="module")
def field() -> ShadowingField:
    return ShadowingField(np.random.default_rng(8), 20, SIDE, SIDE, DCORR)


def pair_correlation(field: ShadowingField, distance_m: float, n: int = 20_000) -> float:
    """Mean product of the field at pairs of points ``distance_m`` apart in random directions."""
    rng = np.random.default_rng(9)
    a = rng.uniform(0, SIDE - distance_m, (n, 2))
    angle = rng.uniform(0, math.pi / 2, n)  # keeps b inside the area
    b = a + distance_m * np.column_stack([np.cos(angle), np.sin(angle)])
    return float(np.mean(field.sample(a) * field.sample(b)))


def test_shadowing_has_unit_std_everywhere(field):
    values = field.sample(np.random.default_rng(10).uniform(0, SIDE, (20_000, 2)))
    assert values.shape == (20_000, 20)
    assert values.std() == pytest.approx(1.0, abs=0.03)
    assert values.mean() == pytest.approx(0.0, abs=0.03)


def test_shadowing_std_is_one_mid_cell_too(field):
    # Cell centres are where bilinear interpolation loses most variance.
    s = field.spacing_m
    centres = (np.random.default_rng(11).integers(0, int(SIDE / s) - 1, (20_000, 2)) + 0.5) * s
    assert field.sample(centres).std() == pytest.approx(1.0, abs=0.03)


def test_shadowing_correlation_at_zero_distance_is_one(field):
    assert pair_correlation(field, 0.0) == pytest.approx(1.0, abs=0.03)


def test_shadowing_correlation_at_the_decorrelation_distance_is_one_over_e(field):
    assert pair_correlation(field, DCORR) == pytest.approx(math.exp(-1), abs=0.07)


def test_shadowing_is_uncorrelated_far_apart(field):
    assert pair_correlation(field, 5 * DCORR) == pytest.approx(0.0, abs=0.05)


def test_shadowing_fields_of_different_bs_are_independent(field):
    values = field.sample(np.random.default_rng(12).uniform(0, SIDE, (20_000, 2)))
    assert np.corrcoef(values[:, 0], values[:, 1])[0, 1] == pytest.approx(0.0, abs=0.05)


def test_shadowing_grid_is_coarsened_to_fit_the_memory_cap(monkeypatch):
    monkeypatch.setattr(channel, "MAX_SHADOWING_POINTS", 200_000)
    field = ShadowingField(np.random.default_rng(13), 50, 3000.0, 3000.0, 50.0)
    assert 50 * field.shape[0] * field.shape[1] <= 200_000
    assert field.spacing_m > 50.0 / 8
    values = field.sample(np.random.default_rng(15).uniform(0, 3000, (5000, 2)))
    assert values.std() == pytest.approx(1.0, abs=0.05)


def test_same_seed_gives_the_same_shadowing():
    points = np.array([[10.0, 20.0], [300.0, 77.7]])
    a = ShadowingField(np.random.default_rng(14), 3, 400.0, 300.0, 30.0).sample(points)
    b = ShadowingField(np.random.default_rng(14), 3, 400.0, 300.0, 30.0).sample(points)
    np.testing.assert_array_equal(a, b)
