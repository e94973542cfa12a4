"""Sum-of-sinusoids fading against Jakes' spectrum, its marginal law and its bookkeeping.

Independent truth: ``scipy.special.j0`` for the autocorrelation, the exponential law and
Kluyver's exact law of a sum of M unit phasors (``P(|S| <= r) = r int J1(r t) J0(t)^M dt``)
for the power, the Rician moments for the K factor.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import j0, j1

from twin.radio.fading import DEFAULT_SINUSOIDS, RENORMALIZE_STEPS, FadingProcess

M = DEFAULT_SINUSOIDS
FD_HZ, DT_S = 10.0, 0.005  # 2 pi f_d dt = 0.31 rad: lag 20 spans J0 through its first minimum


def kluyver_power_cdf(x: float, m: int = M) -> float:
    """P(|sum of m unit phasors|^2 / m <= x), uniform independent phases."""
    r = math.sqrt(m * x)
    return quad(lambda t: r * j1(r * t) * j0(t) ** m, 0.0, 80.0, limit=2000)[0]


def autocorrelation(fading: FadingProcess, lags: int, dt_s: float) -> tuple[np.ndarray, ...]:
    """``Re h(k dt) h(0)*`` per link for k = 1..lags, and the powers at each k."""
    h0 = fading.h
    products, powers = [], [fading.power()]
    for _ in range(lags):
        fading.step(dt_s)
        products.append((fading.h * h0.conj()).real.ravel())
        powers.append(fading.power())
    return np.array(products), np.array([p.ravel() for p in powers])


def test_autocorrelation_is_j0_at_every_lag_1_to_20():
    # 100 000 independent links; each gives one sample of Re h(k) h(0)* per lag, so the
    # standard error is their std / sqrt(n). The first-order recursion this replaces gave
    # rho^k: 0.88 at lag 5 here against J0 = 0.47.
    fading = FadingProcess(np.random.default_rng(1), 2000, 50, "rayleigh", doppler_hz=FD_HZ)
    products, _ = autocorrelation(fading, 20, DT_S)
    n = products.shape[1]
    lags = np.arange(1, 21)
    expected = j0(2 * np.pi * FD_HZ * lags * DT_S)
    measured = products.mean(axis=1)
    se = products.std(axis=1) / math.sqrt(n)
    assert np.all(np.abs(measured - expected) <= 5 * se), np.c_[measured, expected, se]
    assert expected.min() < -0.3  # the lags reach J0's negative lobe


def test_power_autocovariance_is_j0_squared_minus_one_over_m():
    # With M phasors of random phase, E[P(t) P(t + tau)] = 1 + |R_M(tau)|^2 - 1/M and the
    # ensemble mean of |R_M|^2 is J0^2 (stratified angles, 2 pi f_d tau << M): the finite-M
    # departure from a Gaussian process (J0^2) is the -1/M, documented in twin.radio.fading.
    fading = FadingProcess(np.random.default_rng(2), 2000, 50, "rayleigh", doppler_hz=FD_HZ)
    _, powers = autocorrelation(fading, 20, DT_S)
    lags = np.arange(1, 21)
    covariance = (powers[1:] * powers[0]).mean(axis=1) - 1.0
    se = (powers[1:] * powers[0]).std(axis=1) / math.sqrt(powers.shape[1])
    expected = j0(2 * np.pi * FD_HZ * lags * DT_S) ** 2 - 1.0 / M
    assert np.all(np.abs(covariance - expected) <= 5 * se)


def test_rician_autocorrelation_adds_the_fixed_los_part():
    k = 10**0.9
    fading = FadingProcess(
        np.random.default_rng(3), 2000, 50, "rician", k_factor_db=9.0, doppler_hz=FD_HZ
    )
    products, _ = autocorrelation(fading, 10, DT_S)
    lags = np.arange(1, 11)
    expected = k / (k + 1) + j0(2 * np.pi * FD_HZ * lags * DT_S) / (k + 1)
    se = products.std(axis=1) / math.sqrt(products.shape[1])
    assert np.all(np.abs(products.mean(axis=1) - expected) <= 5 * se)


def test_doppler_is_per_user():
    # x = 2 pi f_d dt at J0's first zero decorrelates user 1 in one step; user 0 stands still.
    first_zero = 2.404825557695773
    doppler = np.array([0.0, first_zero / (2 * math.pi * 0.01)])
    fading = FadingProcess(np.random.default_rng(4), 2, 50_000, "rayleigh", doppler_hz=doppler)
    before = fading.h
    fading.step(0.01)
    after = fading.h
    np.testing.assert_array_equal(after[0], before[0])  # f_d = 0: frozen
    assert abs(np.mean(after[1] * before[1].conj())) < 0.02  # J0 = 0: fresh


def test_rayleigh_power_has_mean_one_after_many_steps():
    fading = FadingProcess(np.random.default_rng(5), 1000, 100, "rayleigh", doppler_hz=50.0)
    for _ in range(20):
        fading.step(0.01)
    assert fading.power().mean() == pytest.approx(1.0, abs=0.01)


def test_each_link_has_unit_mean_power_over_time():
    # Constant amplitudes: a link's power averages to exactly 1 over time (the cross terms
    # of distinct Dopplers average out), unlike Gaussian amplitudes, whose per-link mean
    # would spread with std 1/sqrt(M) = 0.33 forever.
    fading = FadingProcess(np.random.default_rng(6), 200, 10, "rayleigh", doppler_hz=100.0)
    total = np.zeros((200, 10))
    for _ in range(4000):
        fading.step(0.0137)
        total += fading.power()
    per_link = total / 4000
    assert np.median(np.abs(per_link - 1.0)) < 0.05
    assert per_link.std() < 0.1


def test_rayleigh_power_follows_the_sum_of_phasors_law_and_is_near_exponential():
    # 100 000 independent links at one instant. Against Kluyver's exact law of the model
    # the tolerance is sampling error only; against the exponential (M -> infinity) the
    # model's own finite-M departure, at most 0.11/M (0.012 at M = 9), comes on top.
    fading = FadingProcess(np.random.default_rng(7), 1000, 100, "rayleigh", doppler_hz=30.0)
    for _ in range(3):
        fading.step(0.01)
    power = fading.power().ravel()
    n = power.size
    for x in (0.05, 0.1, 0.5, 1.0, 2.0, 3.0):
        measured = np.mean(power < x)
        exact = kluyver_power_cdf(x)
        se = math.sqrt(exact * (1 - exact) / n)
        assert measured == pytest.approx(exact, abs=5 * se), x
        assert measured == pytest.approx(1 - math.exp(-x), abs=0.11 / M + 5 * se), x


def test_rician_power_has_mean_one_and_the_k_factor():
    fading = FadingProcess(
        np.random.default_rng(8), 1000, 100, "rician", k_factor_db=9.0, doppler_hz=20.0
    )
    for _ in range(10):
        fading.step(0.01)
    power = fading.power()
    # |h|^2 = |a + b z|^2, a^2 = K/(K+1), b^2 = 1/(K+1): Var = (1 + 2K) / (K + 1)^2 for a
    # Gaussian z (b^4 / M less for M phasors: 0.0014 at 9 dB), so K = ((1 - v) + sqrt(1 - v))
    # / v within a few hundredths of a dB.
    v = power.var()
    k_hat = ((1 - v) + math.sqrt(1 - v)) / v
    assert power.mean() == pytest.approx(1.0, abs=0.01)
    assert 10 * math.log10(k_hat) == pytest.approx(9.0, abs=0.3)


def test_phasors_stay_on_the_unit_circle_over_long_runs():
    fading = FadingProcess(np.random.default_rng(9), 50, 20, "rayleigh", doppler_hz=300.0)
    for _ in range(3 * RENORMALIZE_STEPS + 7):
        fading.step(0.001)
    np.testing.assert_allclose(np.abs(fading._phasors), 1.0, atol=2e-5)


def test_a_changed_step_keeps_the_spectrum():
    # Two half steps rotate like one full step (up to float32 rounding).
    rng_seed = 10
    a = FadingProcess(np.random.default_rng(rng_seed), 30, 5, "rayleigh", doppler_hz=40.0)
    b = FadingProcess(np.random.default_rng(rng_seed), 30, 5, "rayleigh", doppler_hz=40.0)
    a.step(0.01)
    b.step(0.005)
    b.step(0.005)
    np.testing.assert_allclose(a.h, b.h, atol=1e-5)


def test_no_fading_has_unit_power_and_draws_nothing():
    rng = np.random.default_rng(11)
    state = rng.bit_generator.state
    fading = FadingProcess(rng, 3, 2, "none")
    fading.step(0.3)
    np.testing.assert_array_equal(fading.power(), np.ones((3, 2)))
    assert rng.bit_generator.state == state


def test_same_seed_gives_the_same_fading_bit_for_bit():
    a = FadingProcess(np.random.default_rng(12), 10, 4, "rician", doppler_hz=[5.0] * 10)
    b = FadingProcess(np.random.default_rng(12), 10, 4, "rician", doppler_hz=[5.0] * 10)
    for _ in range(300):
        a.step(0.9)
        b.step(0.9)
    np.testing.assert_array_equal(a.power(), b.power())
    np.testing.assert_array_equal(a.h, b.h)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="allowed: none, rayleigh, rician"):
        FadingProcess(np.random.default_rng(0), 2, 2, "nakagami")
    with pytest.raises(ValueError, match="doppler_hz"):
        FadingProcess(np.random.default_rng(0), 2, 2, doppler_hz=-1.0)
    with pytest.raises(ValueError, match="dt_s"):
        FadingProcess(np.random.default_rng(0), 2, 2).step(-0.1)
