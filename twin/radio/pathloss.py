"""Path loss and LOS probability: 3GPP TR 38.901 (v17) UMa / UMi street canyon, log-distance.

Pure and vectorized: every function takes arrays (typically ``(U, B)``, one entry per user
and base station) and returns arrays of the broadcast shape. The table or equation a line
implements is cited next to it. Distances and heights in metres, carriers in GHz, losses in
dB (positive: a loss).

UMa's effective environment height ``h_E`` is random (Table 7.4.1-1 note 1):
:func:`uma_environment_height_m` maps two uniforms per link to a draw, so a caller that
keeps the uniforms keeps the link's ``h_E`` (see :class:`twin.radio.network.RadioNetwork`).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

PathLossModel = Literal["log_distance", "uma", "umi"]
PATH_LOSS_MODELS: tuple[str, ...] = ("log_distance", "uma", "umi")

SPEED_OF_LIGHT_MPS = 299_792_458.0
MIN_D2D_3GPP_M = 10.0  # TR 38.901 Table 7.4.1-1: UMa/UMi are valid for d2D >= 10 m
ENVIRONMENT_HEIGHT_M = 1.0  # h_E: always for UMi; UMa's with probability 1/(1 + C)
# UMa's C(d2D, h_UT) and C'(h_UT) are defined for 13 m <= h_UT <= 23 m; taller users are
# evaluated at 23 m (the spec's UMa range ends at h_UT = 22.5 m).
UMA_C_MIN_HEIGHT_M = 13.0
UMA_C_MAX_HEIGHT_M = 23.0
UMA_ELEVATED_H_E_M = 12.0  # the elevated h_E values are 12, 15, ..., h_UT - 1.5 m
UMA_ELEVATED_H_E_STEP_M = 3.0


def check_model(model: str, allowed: tuple[str, ...], what: str) -> None:
    """Raise a ValueError naming the allowed models when ``model`` is not one of them."""
    if model not in allowed:
        raise ValueError(f"unknown {what} model {model!r}; allowed: {', '.join(allowed)}")


# --------------------------------------------------------------------------- LOS probability


def los_probability(
    model: PathLossModel, d2d_m: np.ndarray | float, h_ut_m: np.ndarray | float
) -> np.ndarray:
    """Probability that a link is line of sight, TR 38.901 Table 7.4.2-1 (outdoor users).

    ``log_distance`` has no LOS notion: every link is LOS (all ones). For UMa, ``C'(h_UT)``
    is evaluated with ``h_UT`` clipped to the table's 23 m upper limit.
    """
    check_model(model, PATH_LOSS_MODELS, "path loss")
    d = np.asarray(d2d_m, dtype=float)
    h_ut = np.asarray(h_ut_m, dtype=float)
    if model == "log_distance":
        return np.ones(np.broadcast_shapes(d.shape, h_ut.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = 18.0 / d
        if model == "umi":
            # UMi street canyon: 18/d + exp(-d/36) (1 - 18/d) for d > 18 m
            p = ratio + np.exp(-d / 36.0) * (1.0 - ratio)
            p = np.broadcast_to(p, np.broadcast_shapes(d.shape, h_ut.shape))
        else:
            # UMa: [18/d + exp(-d/63) (1 - 18/d)] (1 + C'(h_UT) 5/4 (d/100)^3 exp(-d/150))
            c_prime = np.where(h_ut <= 13.0, 0.0, ((np.minimum(h_ut, 23.0) - 13.0) / 10.0) ** 1.5)
            p = (ratio + np.exp(-d / 63.0) * (1.0 - ratio)) * (
                1.0 + c_prime * 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0)
            )
    p = np.where(d <= 18.0, 1.0, p)  # both: 1 for d2D <= 18 m
    return np.clip(p, 0.0, 1.0)


# --------------------------------------------------------------------------- UMa's h_E


def uma_c(d2d_m: np.ndarray | float, h_ut_m: np.ndarray | float) -> np.ndarray:
    """``C(d2D, h_UT)`` of TR 38.901 Table 7.4.1-1 note 1 (UMa's effective environment height).

    ``g(d2D) = 5/4 (d2D/100)^3 exp(-d2D/150)`` beyond 18 m (0 within), and
    ``C = ((h_UT - 13)/10)^1.5 g(d2D)`` for ``13 m <= h_UT <= 23 m`` (0 below 13 m; taller
    users are evaluated at 23 m).
    """
    d = np.asarray(d2d_m, dtype=float)
    h_ut = np.asarray(h_ut_m, dtype=float)
    g = np.where(d <= 18.0, 0.0, 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0))
    h = np.minimum(h_ut, UMA_C_MAX_HEIGHT_M)
    scale = np.where(h < UMA_C_MIN_HEIGHT_M, 0.0, (np.maximum(h - 13.0, 0.0) / 10.0) ** 1.5)
    return scale * g


def uma_elevated_choices(h_ut_m: float) -> int:
    """How many elevated ``h_E`` values ``{12, 15, ..., h_UT - 1.5}`` a user of height ``h_UT``
    has (0 below 13.5 m: there ``h_E`` is 1 m whatever ``C`` says)."""
    top = min(float(h_ut_m), UMA_C_MAX_HEIGHT_M) - 1.5
    if top < UMA_ELEVATED_H_E_M:
        return 0
    return int(math.floor((top - UMA_ELEVATED_H_E_M) / UMA_ELEVATED_H_E_STEP_M + 1e-9)) + 1


def uma_draws_environment_height(model: str, h_ut_m: float) -> bool:
    """Whether a link can have ``h_E != 1 m``: UMa with users of at least 13.5 m."""
    return model == "uma" and uma_elevated_choices(h_ut_m) > 0


def uma_environment_height_m(
    d2d_m: np.ndarray, h_ut_m: float, u_class: np.ndarray | float, u_pick: np.ndarray | float
) -> np.ndarray:
    """UMa's ``h_E`` per link from two uniforms in [0, 1), TR 38.901 Table 7.4.1-1 note 1.

    ``h_E = 1 m`` while ``u_class < 1 / (1 + C(d2D, h_UT))``; otherwise the
    ``floor(u_pick n)``-th of the ``n`` values ``12, 15, ..., h_UT - 1.5`` m. With uniform
    ``u_class`` and ``u_pick`` that is the spec's law; a link that keeps its uniforms keeps
    its ``h_E`` until ``C`` (its distance) moves the threshold past ``u_class``, and then
    returns to the same elevated value, the way the LOS state persists.
    """
    d = np.asarray(d2d_m, dtype=float)
    n = uma_elevated_choices(h_ut_m)
    if n == 0:
        return np.full(d.shape, ENVIRONMENT_HEIGHT_M)
    p_one = 1.0 / (1.0 + uma_c(d, h_ut_m))
    pick = np.minimum(np.floor(np.asarray(u_pick, dtype=float) * n), n - 1)
    elevated = UMA_ELEVATED_H_E_M + UMA_ELEVATED_H_E_STEP_M * pick
    return np.where(np.asarray(u_class) < p_one, ENVIRONMENT_HEIGHT_M, elevated)


# --------------------------------------------------------------------------- path loss


def free_space_loss_db(distance_m: np.ndarray | float, carrier_ghz: float) -> np.ndarray:
    """Friis free-space loss ``20 log10(4 pi d f / c)``."""
    d = np.asarray(distance_m, dtype=float)
    return 20.0 * np.log10(4.0 * np.pi * d * carrier_ghz * 1e9 / SPEED_OF_LIGHT_MPS)


def path_loss_db(
    model: PathLossModel,
    d2d_m: np.ndarray | float,
    d3d_m: np.ndarray | float,
    h_bs_m: np.ndarray | float,
    h_ut_m: np.ndarray | float,
    carrier_ghz: float,
    los: np.ndarray | bool,
    *,
    exponent: float = 3.5,
    ref_distance_m: float = 1.0,
    ref_loss_db: float | None = None,
    h_e_m: np.ndarray | float = ENVIRONMENT_HEIGHT_M,
) -> np.ndarray:
    """Path loss in dB of each link (positive: a loss).

    - ``uma`` / ``umi``: TR 38.901 Table 7.4.1-1, UMa and UMi street canyon. LOS links use
      PL1 below the breakpoint ``d'_BP = 4 h'_BS h'_UT f_c / c`` (``h' = h - h_E``) and PL2
      beyond; NLOS links use ``max(PL_LOS, PL'_NLOS)``. ``h_e_m`` is the effective
      environment height per link: 1 m for UMi; for UMa the caller's draw
      (:func:`uma_environment_height_m`), 1 m by default. The table is valid for
      ``10 m <= d2D <= 5 km``: ``d2D`` is clamped up to 10 m (and ``d3D`` to the matching
      slant distance) so users next to a mast do not get a near-zero loss; beyond 5 km the
      formulas are extrapolated.
    - ``log_distance``: ``ref_loss_db + 10 n log10(d3D / d0)``, ``ref_loss_db`` defaulting to
      free space at ``d0``; ``d3D`` is clamped up to ``d0``. ``los`` and ``h_e_m`` are ignored.
    """
    check_model(model, PATH_LOSS_MODELS, "path loss")
    d2d = np.asarray(d2d_m, dtype=float)
    d3d = np.asarray(d3d_m, dtype=float)
    if model == "log_distance":
        ref = (
            free_space_loss_db(ref_distance_m, carrier_ghz) if ref_loss_db is None else ref_loss_db
        )
        d = np.maximum(d3d, ref_distance_m)
        return ref + 10.0 * exponent * np.log10(d / ref_distance_m)

    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ut = np.asarray(h_ut_m, dtype=float)
    h_e = np.asarray(h_e_m, dtype=float)
    too_close = d2d < MIN_D2D_3GPP_M
    d2d = np.maximum(d2d, MIN_D2D_3GPP_M)
    d3d = np.where(too_close, np.hypot(MIN_D2D_3GPP_M, h_bs - h_ut), d3d)
    log_d3d = np.log10(d3d)
    log_fc = math.log10(carrier_ghz)
    # Table 7.4.1-1 note 1: d'_BP = 4 h'_BS h'_UT f_c / c, f_c in Hz, h' = h - h_E.
    d_bp = 4.0 * (h_bs - h_e) * (h_ut - h_e) * (carrier_ghz * 1e9 / SPEED_OF_LIGHT_MPS)
    bp_term = np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    if model == "uma":
        pl1 = 28.0 + 22.0 * log_d3d + 20.0 * log_fc  # UMa LOS, PL1
        pl2 = 28.0 + 40.0 * log_d3d + 20.0 * log_fc - 9.0 * bp_term  # UMa LOS, PL2
        pl_los = np.where(d2d <= d_bp, pl1, pl2)
        # UMa NLOS: PL'_NLOS = 13.54 + 39.08 log10(d3D) + 20 log10(fc) - 0.6 (h_UT - 1.5)
        pl_nlos = 13.54 + 39.08 * log_d3d + 20.0 * log_fc - 0.6 * (h_ut - 1.5)
    else:
        pl1 = 32.4 + 21.0 * log_d3d + 20.0 * log_fc  # UMi-Street Canyon LOS, PL1
        pl2 = 32.4 + 40.0 * log_d3d + 20.0 * log_fc - 9.5 * bp_term  # UMi LOS, PL2
        pl_los = np.where(d2d <= d_bp, pl1, pl2)
        # UMi NLOS: PL'_NLOS = 35.3 log10(d3D) + 22.4 + 21.3 log10(fc) - 0.3 (h_UT - 1.5)
        pl_nlos = 35.3 * log_d3d + 22.4 + 21.3 * log_fc - 0.3 * (h_ut - 1.5)
    # NLOS: PL = max(PL_LOS, PL'_NLOS)
    return np.where(los, pl_los, np.maximum(pl_los, pl_nlos))


def default_shadowing_std_db(model: PathLossModel, los: np.ndarray | bool) -> np.ndarray:
    """Shadow-fading std in dB: TR 38.901 Table 7.4.1-1 (UMa 4/6, UMi 4/7.82 dB LOS/NLOS);
    8 dB for log_distance (a common macro-cell value)."""
    check_model(model, PATH_LOSS_MODELS, "path loss")
    los = np.asarray(los, dtype=bool)
    if model == "log_distance":
        return np.full(los.shape, 8.0)
    nlos_std = 6.0 if model == "uma" else 7.82
    return np.where(los, 4.0, nlos_std)
