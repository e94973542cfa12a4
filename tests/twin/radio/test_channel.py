"""Channel maths: noise, Doppler, Jakes' correlation, and the facade's imports.

Path loss and LOS: test_pathloss.py; shadowing: test_shadowing.py; fading: test_fading.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.radio import channel
from twin.radio.channel import doppler_hz, gauss_markov_rho, jakes_correlation, thermal_noise_mw

C = 299_792_458.0


def bessel_j0(x: float) -> float:
    """J0 from its integral form (1/pi) int_0^pi cos(x sin t) dt, independent of scipy."""
    t = np.linspace(0.0, math.pi, 20001)
    return float(np.trapezoid(np.cos(x * np.sin(t)), t) / math.pi)


def test_thermal_noise_at_1mhz_and_0db_figure_is_minus_114_dbm():
    assert 10 * math.log10(thermal_noise_mw(1e6, 0.0)) == pytest.approx(-113.98, abs=0.03)


def test_thermal_noise_adds_the_noise_figure_in_db():
    ratio_db = 10 * math.log10(thermal_noise_mw(20e6, 7.0) / thermal_noise_mw(1e6, 0.0))
    assert ratio_db == pytest.approx(10 * math.log10(20) + 7.0)


def test_doppler_is_speed_times_carrier_over_c():
    assert doppler_hz(30.0, 3.5) == pytest.approx(30.0 * 3.5e9 / C)
    np.testing.assert_allclose(doppler_hz(np.array([0.0, 1.0]), 2.0), [0.0, 2e9 / C])


def test_jakes_correlation_is_bessel_j0_of_two_pi_fd_lag():
    for lag_s in (0.002, 0.01, 0.05):
        expected = bessel_j0(2 * math.pi * 100.0 * lag_s)
        assert float(jakes_correlation(100.0, lag_s)) == pytest.approx(expected, abs=1e-6)
        assert float(gauss_markov_rho(100.0, lag_s)) == float(jakes_correlation(100.0, lag_s))


def test_the_facade_still_exports_what_it_did():
    for name in (
        "FadingProcess", "ShadowingField", "default_shadowing_std_db", "doppler_hz",
        "gauss_markov_rho", "los_probability", "path_loss_db", "thermal_noise_mw",
        "free_space_loss_db", "ENVIRONMENT_HEIGHT_M", "MAX_SHADOWING_POINTS",
        "PATH_LOSS_MODELS", "FADING_MODELS", "SPEED_OF_LIGHT_MPS", "MIN_D2D_3GPP_M",
    ):  # fmt: skip
        assert hasattr(channel, name), name
