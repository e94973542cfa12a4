"""The channel in one import: noise here; path loss, shadowing and fading from their modules.

- :mod:`twin.radio.pathloss`: LOS probability and path loss (TR 38.901 UMa / UMi,
  log-distance), UMa's random effective environment height ``h_E``.
- :mod:`twin.radio.shadowing`: the spatially correlated shadowing fields and the spec's
  decorrelation distances.
- :mod:`twin.radio.fading`: Doppler and the sum-of-sinusoids fading with Jakes' spectrum.

Pure and vectorized; the classes draw only from the generator they are given, so the same
generator gives the same channel bit for bit. Distances and heights in metres, carriers in
GHz, losses in dB, gains and powers linear (mW).
"""

from __future__ import annotations

import math

from twin.radio.fading import (
    DEFAULT_SINUSOIDS,
    FADING_MODELS,
    FadingModel,
    FadingProcess,
    doppler_hz,
    gauss_markov_rho,
    jakes_correlation,
)
from twin.radio.pathloss import (
    ENVIRONMENT_HEIGHT_M,
    MIN_D2D_3GPP_M,
    PATH_LOSS_MODELS,
    SPEED_OF_LIGHT_MPS,
    PathLossModel,
    default_shadowing_std_db,
    free_space_loss_db,
    los_probability,
    path_loss_db,
    uma_c,
    uma_environment_height_m,
)
from twin.radio.shadowing import (
    DECORRELATION_M,
    DEFAULT_SPACING_FRACTION,
    MAX_FIELD_POINTS,
    MAX_SHADOWING_POINTS,
    ShadowingField,
    default_decorrelation_m,
)

THERMAL_NOISE_DBM_PER_HZ = -174.0  # kT at 290 K

__all__ = [
    "DECORRELATION_M",
    "DEFAULT_SINUSOIDS",
    "DEFAULT_SPACING_FRACTION",
    "ENVIRONMENT_HEIGHT_M",
    "FADING_MODELS",
    "MAX_FIELD_POINTS",
    "MAX_SHADOWING_POINTS",
    "MIN_D2D_3GPP_M",
    "PATH_LOSS_MODELS",
    "SPEED_OF_LIGHT_MPS",
    "THERMAL_NOISE_DBM_PER_HZ",
    "FadingModel",
    "FadingProcess",
    "PathLossModel",
    "ShadowingField",
    "default_decorrelation_m",
    "default_shadowing_std_db",
    "doppler_hz",
    "free_space_loss_db",
    "gauss_markov_rho",
    "jakes_correlation",
    "los_probability",
    "path_loss_db",
    "thermal_noise_mw",
    "uma_c",
    "uma_environment_height_m",
]


def thermal_noise_mw(bandwidth_hz: float, noise_figure_db: float) -> float:
    """Receiver noise power ``-174 dBm/Hz + 10 log10(B) + NF``, in mW."""
    if bandwidth_hz <= 0:
        raise ValueError(f"bandwidth_hz must be positive, got {bandwidth_hz}")
    noise_dbm = THERMAL_NOISE_DBM_PER_HZ + 10.0 * math.log10(bandwidth_hz) + noise_figure_db
    return 10.0 ** (noise_dbm / 10.0)
