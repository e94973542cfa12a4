"""Recalibrating the twin's channel model from the channel reports the network sends.

The twin plans with the scenario's channel model; the real network follows its own law
(``sync.physical_channel`` in a scenario simulates that mismatch) and its own shadowing. The
only evidence is the :class:`~twin.sim.physical.ChannelReport` stream: gains with fast fading
and estimation error, at reported user positions. :func:`calibrate` turns reports into a
:class:`Calibration`:

1. **Samples.** Every reported link gives a loss ``-10 log10 g`` in dB; adding the mean of
   ``10 log10 |h|^2`` under the scenario's fading model removes the fading bias (Rayleigh:
   -2.51 dB), so each sample is an unbiased, noisy estimate of the large-scale loss.
2. **Averaging out fading.** Samples are averaged in spatial bins (per BS, cells of
   ``decorrelation_m / 8``): several reports of users in one spot become one observation
   whose noise variance is the fading and estimation variance over the *effective* number of
   samples (fading is correlated from one report to the next, Gauss-Markov with Jakes' rho).
3. **Path loss.** ``L(d) = intercept_db + 10 n log10(d / 1 m)``, fitted by generalized least
   squares with the bins' covariance (exponential shadowing correlation plus their noise);
   the shadowing variance is estimated from the residuals (method of moments, shrunk towards
   the scenario's value when there are few bins).
4. **Shadowing map.** The residuals are interpolated over the area by simple kriging
   (Gaussian-process regression with covariance ``s^2 exp(-r / decorrelation_m)``), one map
   per BS: the posterior mean (dB, exact at any point) and its standard deviation (on a
   grid of ``decorrelation_m / 4``).

The calibrated twin's large-scale loss is ``L(d) + mean(x) + std(x) z(x)`` with ``z`` the
twin's own unit shadowing field: known where reports were, the scenario's randomness (with
the fitted variance) where none were. A calibration is JSON (``aign.calibration/1``), tied to
one scenario version by its digest; never pickled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy import integrate, stats

from twin.core.errors import CalibrationError
from twin.core.seeding import stream
from twin.radio.calibration import (
    KRIGING_CHUNK,
    REF_DISTANCE_M,
    Calibration,
    PathLossFit,
    ShadowingMap,
    correlation,
)
from twin.radio.channel import default_shadowing_std_db, doppler_hz, jakes_correlation
from twin.radio.mobility import place_base_stations
from twin.radio.shadowing import decorrelation_pair_m
from twin.scenario.derive import scenario_digest
from twin.scenario.schema import Scenario
from twin.sim.physical import ChannelReport

DB_PER_NEPER = 10.0 / math.log(10.0)  # 10 log10(x) = DB_PER_NEPER * ln(x)
BIN_FRACTION = 1 / 8  # bin size as a fraction of the decorrelation distance
MAP_FRACTION = 1 / 4  # map grid spacing as a fraction of the decorrelation distance
MAX_BINS_PER_BS = 1500  # kriging solves an M x M system per BS; bins are coarsened past this
MAX_MAP_NODES = 20_000  # grid nodes per BS map (its spacing is coarsened past this)
PRIOR_BINS = 10  # weight, in bins, of the scenario's shadowing std in the variance estimate
MIN_BINS = 3
MIN_LOG_DISTANCE_SPREAD_DB = 0.5  # 10 log10(d) must vary this much to fit an exponent
MAX_REPORT_WAIT_FACTOR = 100  # collect_reports gives up after this many expected periods


# --------------------------------------------------------------------------- fading
def fading_log_moments_db(model: str, k_factor_db: float = 9.0) -> tuple[float, float]:
    """Mean and variance of ``10 log10 |h|^2`` (dB, dB^2) for unit-mean fading power.

    Rayleigh: ``|h|^2 ~ Exp(1)``, ``E ln = -gamma``, ``Var ln = pi^2 / 6``. Rician with K:
    ``2 (K + 1) |h|^2`` is noncentral chi-square (2 degrees of freedom, ``nc = 2K``); its
    log moments are integrated numerically.
    """
    if model == "none":
        return 0.0, 0.0
    if model == "rayleigh":
        return -np.euler_gamma * DB_PER_NEPER, (math.pi**2 / 6.0) * DB_PER_NEPER**2
    if model != "rician":
        raise CalibrationError(f"unknown fading model {model!r}; known: none, rayleigh, rician")
    k = 10.0 ** (k_factor_db / 10.0)
    law = stats.ncx2(2.0, 2.0 * k)
    shift = math.log(2.0 * (k + 1.0))
    hi = law.ppf(1.0 - 1e-12)

    def moment(power: int, centre: float) -> float:
        return integrate.quad(
            lambda z: (math.log(z) - centre) ** power * law.pdf(z), 0.0, hi, limit=200
        )[0]

    mean_ln = moment(1, 0.0)
    var_ln = moment(2, mean_ln)
    return (mean_ln - shift) * DB_PER_NEPER, var_ln * DB_PER_NEPER**2


def effective_counts(counts: np.ndarray, r: float | np.ndarray) -> np.ndarray:
    """Effective number of independent samples among ``n`` consecutive samples of a
    stationary sequence: ``n / (1 + 2 sum_k (1 - k/n) c_k)``, with ``c_k`` its correlation at
    lag ``k``: ``r^k`` for a scalar ``r`` (an AR(1) sequence of lag-one correlation ``r``),
    else ``r[k]`` (lags 0, 1, ..., at least ``max(counts)`` of them)."""
    counts = np.asarray(counts, dtype=np.int64)
    n_max = int(counts.max(initial=1))
    k = np.arange(n_max, dtype=float)
    if np.ndim(r) > 0:
        powers = np.asarray(r, dtype=float)[:n_max]
        if powers.size < n_max:
            raise ValueError(f"need correlations at {n_max} lags, got {powers.size}")
    else:
        with np.errstate(under="ignore"):
            powers = np.abs(r) ** k if r >= 0 else r**k
    a = np.cumsum(powers) - 1.0  # a[n-1] = sum_{k=1}^{n-1} r^k
    b = np.cumsum(k * powers)  # b[n-1] = sum_{k=1}^{n-1} k r^k
    n = counts.astype(float)
    idx = counts - 1
    denom = 1.0 + 2.0 * (a[idx] - b[idx] / n)
    return n / np.maximum(denom, 1.0)


# --------------------------------------------------------------------------- fitting
@dataclass(frozen=True)
class _Bins:
    """Reported losses averaged per (BS, spatial cell)."""

    bs: np.ndarray  # (M,) BS index
    pos: np.ndarray  # (M, 2) mean position, m
    x: np.ndarray  # (M,) mean 10 log10(d / d0)
    y: np.ndarray  # (M,) mean debiased loss, dB
    noise: np.ndarray  # (M,) variance of y about the large-scale loss, dB^2
    samples: int


def _bs_geometry(scenario: Scenario) -> np.ndarray:
    """BS positions: the layout stream draws them first, as every RadioNetwork does."""
    return place_base_stations(
        scenario.base_stations, scenario.area, stream(scenario.seed, "layout")
    )


def _decorrelation_m(scenario: Scenario) -> float:
    """The shadowing decorrelation distance the fit assumes: the scenario's, else the spec's
    NLOS one (a calibrated law has no LOS state; RadioNetwork draws its field at the same)."""
    channel = scenario.channel
    return decorrelation_pair_m(channel.path_loss.model, channel.shadowing.decorrelation_m)[1]


def _report_correlations(scenario: Scenario, lags: int) -> np.ndarray:
    """Correlation of a link's fading power between reports 0, 1, ..., ``lags - 1`` apart:
    Jakes' ``J0(2 pi f_d k T)^2`` (Rayleigh's; close for Rician) at the users' mean speed,
    ``T`` the steps between reports."""
    channel = scenario.channel
    out = np.zeros(max(lags, 1))
    out[0] = 1.0
    if channel.fading.model == "none":
        return out
    lo, hi = scenario.users.speed_range
    f_d = doppler_hz(0.5 * (lo + hi), channel.carrier_ghz)
    steps = max(1, round(scenario.sync.report_period_s / scenario.step_s))
    k = np.arange(out.size)
    return jakes_correlation(f_d, steps * scenario.step_s * k) ** 2


def _bin_reports(scenario: Scenario, reports: Sequence[ChannelReport], bs_pos: np.ndarray) -> _Bins:
    channel = scenario.channel
    n_bs = bs_pos.shape[0]
    pos_list, loss_list, user_list = [], [], []
    for report in reports:
        users = np.flatnonzero(report.active)
        g = np.asarray(report.gains, dtype=float)[users]
        if g.shape[1:] != (n_bs,):
            raise CalibrationError(
                f"a channel report has gains for {g.shape[1]} BSs, the scenario has {n_bs}"
            )
        pos_list.append(np.asarray(report.positions, dtype=float)[users])
        with np.errstate(divide="ignore"):
            loss_list.append(-10.0 * np.log10(g))
        user_list.append(users)
    if not pos_list or sum(p.shape[0] for p in pos_list) == 0:
        raise CalibrationError("no channel reports with active users to calibrate from")
    pos = np.concatenate(pos_list)  # (S_u, 2): one row per (report, user)
    loss = np.concatenate(loss_list)  # (S_u, B)
    user = np.concatenate(user_list)
    bias_db, fading_var = fading_log_moments_db(channel.fading.model, channel.fading.k_factor_db)
    ok = np.isfinite(loss)
    dcorr = _decorrelation_m(scenario)
    h = scenario.base_stations.height_m - scenario.users.height_m
    d2d = np.hypot(pos[:, 0:1] - bs_pos[:, 0], pos[:, 1:2] - bs_pos[:, 1])
    x_all = 10.0 * np.log10(np.maximum(np.hypot(d2d, h), REF_DISTANCE_M) / REF_DISTANCE_M)
    y_all = loss + bias_db  # unbiased estimate of the large-scale loss

    error_var = scenario.sync.error_db**2
    cell = dcorr * BIN_FRACTION
    bs_idx = np.broadcast_to(np.arange(n_bs), loss.shape)[ok]
    px = np.broadcast_to(pos[:, 0:1], loss.shape)[ok]
    py = np.broadcast_to(pos[:, 1:2], loss.shape)[ok]
    uid = np.broadcast_to(user[:, None], loss.shape)[ok]
    x, y = x_all[ok], y_all[ok]
    while True:
        keys = np.stack([bs_idx, np.floor(px / cell), np.floor(py / cell)], axis=1)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        per_bs = np.bincount(uniq[:, 0].astype(np.intp), minlength=n_bs)
        if per_bs.max() <= MAX_BINS_PER_BS:
            break
        cell *= 1.5
    m = uniq.shape[0]
    count = np.bincount(inverse, minlength=m).astype(float)

    def mean(v: np.ndarray) -> np.ndarray:
        return np.bincount(inverse, weights=v, minlength=m) / count

    # Effective fading samples: a user's consecutive reports in a bin are correlated.
    pair, pair_inv = np.unique(np.stack([inverse, uid], axis=1), axis=0, return_inverse=True)
    pair_counts = np.bincount(pair_inv.ravel(), minlength=pair.shape[0])
    r_fading = _report_correlations(scenario, int(pair_counts.max(initial=1)))
    n_eff = np.bincount(pair[:, 0], weights=effective_counts(pair_counts, r_fading), minlength=m)
    noise = fading_var / n_eff + error_var / count
    return _Bins(
        bs=uniq[:, 0].astype(np.intp),
        pos=np.stack([mean(px), mean(py)], axis=1),
        x=mean(x),
        y=mean(y),
        noise=noise,
        samples=int(x.size),
    )


def _prior_std_db(scenario: Scenario) -> float:
    """The scenario's own shadowing std (NLOS value for the 3GPP models), 0 when disabled."""
    sh = scenario.channel.shadowing
    if not sh.enabled:
        return 0.0
    if sh.std_db is not None:
        return float(sh.std_db)
    return float(default_shadowing_std_db(scenario.channel.path_loss.model, False))


def calibrate(
    scenario: Scenario, reports: Sequence[ChannelReport], seed: int | None = None
) -> Calibration:
    """Fit the path-loss law and the shadowing map of ``scenario`` to ``reports``.

    Pure: the same reports give the same calibration. ``seed`` is only recorded (the seed of
    the run that produced the reports). Raises :class:`CalibrationError` when the reports
    cannot determine the law (too few, or all at one distance).
    """
    if scenario.channel.mode == "explicit":
        raise CalibrationError(
            f"scenario {scenario.name!r} gives its gains explicitly: there is no path loss or "
            "shadowing to calibrate"
        )
    if len(reports) == 0:
        raise CalibrationError("no channel reports to calibrate from (--reports must be >= 1)")
    bs_pos = _bs_geometry(scenario)
    bins = _bin_reports(scenario, reports, bs_pos)
    m = bins.y.size
    if m < MIN_BINS or np.ptp(bins.x) < MIN_LOG_DISTANCE_SPREAD_DB:
        raise CalibrationError(
            f"too few reports to fit a path-loss law: {len(reports)} reports give {m} "
            f"distinct (BS, place) observations spanning {np.ptp(bins.x):.2g} dB of "
            f"10 log10(distance); need at least {MIN_BINS} spanning "
            f"{MIN_LOG_DISTANCE_SPREAD_DB} dB (collect more reports, or from more users)"
        )
    dcorr = _decorrelation_m(scenario)
    design = np.stack([np.ones(m), bins.x], axis=1)
    # Shadowing fields of different BSs are independent: the covariance is block-diagonal.
    same_bs = bins.bs[:, None] == bins.bs[None, :]
    corr = correlation(bins.pos, bins.pos, dcorr) * same_bs
    beta = np.linalg.lstsq(design, bins.y, rcond=None)[0]  # OLS start
    prior_var = _prior_std_db(scenario) ** 2
    for _ in range(2):  # moments -> GLS -> moments -> GLS
        resid = bins.y - design @ beta
        data_var = max(float(np.mean(resid**2 - bins.noise)), 0.0)
        var = (m * data_var + PRIOR_BINS * prior_var) / (m + PRIOR_BINS)
        cov = var * corr + np.diag(bins.noise + 1e-9)
        chol = scipy.linalg.cho_factor(cov, lower=True)
        cinv_x = scipy.linalg.cho_solve(chol, design)
        info = design.T @ cinv_x
        beta = np.linalg.solve(info, cinv_x.T @ bins.y)
    beta_cov = np.linalg.inv(info)
    intercept, exponent = float(beta[0]), float(beta[1])
    if not 0 < exponent <= 10:
        raise CalibrationError(
            f"the reports give a path-loss exponent of {exponent:.3g}, outside (0, 10]: they "
            f"do not follow a log-distance law ({len(reports)} reports, {m} observations); "
            "collect more reports"
        )
    fit = PathLossFit(
        exponent=exponent,
        intercept_db=intercept,
        exponent_stderr=float(math.sqrt(max(beta_cov[1, 1], 0.0))),
        intercept_stderr_db=float(math.sqrt(max(beta_cov[0, 0], 0.0))),
    )
    shadowing = None
    if var > 0:
        resid = bins.y - design @ beta
        shadowing = _krige(scenario, bins, resid, var, dcorr, bs_pos.shape[0])
    fading_bias, fading_var = fading_log_moments_db(
        scenario.channel.fading.model, scenario.channel.fading.k_factor_db
    )
    return Calibration(
        scenario=scenario.name,
        scenario_digest=scenario_digest(scenario),
        path_loss=fit,
        shadowing=shadowing,
        reports=len(reports),
        samples=bins.samples,
        bins=m,
        seed=seed,
        fading_bias_db=fading_bias,
        sample_noise_db2=fading_var + scenario.sync.error_db**2,
    )


def _map_grid(scenario: Scenario, dcorr: float) -> tuple[float, np.ndarray]:
    w, h = scenario.area.width_m, scenario.area.height_m
    spacing = dcorr * MAP_FRACTION
    while (math.ceil(w / spacing) + 1) * (math.ceil(h / spacing) + 1) > MAX_MAP_NODES:
        spacing *= 1.25
    nx, ny = math.ceil(w / spacing) + 1, math.ceil(h / spacing) + 1
    gx, gy = np.meshgrid(np.arange(nx) * spacing, np.arange(ny) * spacing)
    return spacing, np.stack([gx.ravel(), gy.ravel()], axis=1)


def _krige(
    scenario: Scenario, bins: _Bins, resid: np.ndarray, var: float, dcorr: float, n_bs: int
) -> ShadowingMap:
    """Simple kriging of the residuals, per BS: the mean's weights on the binned points, and
    the posterior std on the map grid (dB)."""
    spacing, nodes = _map_grid(scenario, dcorr)
    ny = math.ceil(scenario.area.height_m / spacing) + 1
    nx = nodes.shape[0] // ny
    weights = np.zeros(resid.size)
    std = np.full((nodes.shape[0], n_bs), math.sqrt(var))
    for b in range(n_bs):
        mine = np.flatnonzero(bins.bs == b)
        if mine.size == 0:
            continue
        pts = bins.pos[mine]
        cov = var * correlation(pts, pts, dcorr) + np.diag(bins.noise[mine] + 1e-9)
        chol = scipy.linalg.cholesky(cov, lower=True)
        weights[mine] = var * scipy.linalg.cho_solve((chol, True), resid[mine])
        for start in range(0, nodes.shape[0], KRIGING_CHUNK):
            chunk = slice(start, start + KRIGING_CHUNK)
            k_star = var * correlation(nodes[chunk], pts, dcorr)  # (G, M)
            v = scipy.linalg.solve_triangular(chol, k_star.T, lower=True)  # (M, G)
            std[chunk, b] = np.sqrt(np.maximum(var - np.einsum("mg,mg->g", v, v), 0.0))
    return ShadowingMap(
        decorrelation_m=dcorr,
        prior_std_db=math.sqrt(var),
        support_xy=bins.pos.copy(),
        support_bs=bins.bs.copy(),
        weights_db=weights,
        spacing_m=spacing,
        std_db=std.reshape(ny, nx, n_bs),
    )


# --------------------------------------------------------------------------- reports
def collect_reports(
    scenario: Scenario, n_reports: int, seed: int | None = None, start_s: float = 0.0
) -> list[ChannelReport]:
    """The first ``n_reports`` channel reports measured after ``start_s`` that reach the
    twin through the sync hook (drops, delay and estimation error as the scenario says),
    with the scenario's initial powers in force. The physical layer is seeded as the twin's
    (``sync.physical_seed``, or derived from ``seed``)."""
    from twin.sim.twin import PHASE_RECORD, PhasedTimeout, Twin

    if n_reports < 1:
        raise CalibrationError(f"--reports must be at least 1, got {n_reports}")
    if start_s < 0:
        raise CalibrationError(f"start_s must be >= 0, got {start_s:g}")
    if not scenario.sync.enabled:
        scenario = scenario.model_copy(
            update={"sync": scenario.sync.model_copy(update={"enabled": True})}
        )
    twin = Twin(scenario, controller=None, seed=seed)
    reports: list[ChannelReport] = []

    def probe():
        last = twin.sync.estimate_measured_at_s  # the exact report at time zero: not sent
        while True:
            yield PhasedTimeout(twin.env, twin.step_us, PHASE_RECORD)
            measured = twin.sync.estimate_measured_at_s
            if measured == last:
                continue
            last = measured
            if measured + 1e-9 < start_s or len(reports) >= n_reports:
                continue
            gains, assoc, positions, active = twin.estimate()
            reports.append(ChannelReport(measured, gains, assoc, positions, active))

    twin.env.process(probe())
    period = scenario.sync.report_period_s
    expected_s = n_reports * period / (1.0 - scenario.sync.drop_prob)
    limit_s = start_s + scenario.sync.delay_s + MAX_REPORT_WAIT_FACTOR * expected_s
    until = start_s + scenario.sync.delay_s + expected_s + period
    while len(reports) < n_reports:
        if twin.time_s >= limit_s:
            raise CalibrationError(
                f"only {len(reports)} of {n_reports} channel reports arrived in {limit_s:g} "
                f"simulated seconds (sync.drop_prob {scenario.sync.drop_prob:g})"
            )
        twin.run(until_s=min(until, limit_s))
        until += max(period, (n_reports - len(reports)) * period)
    return reports


def calibrate_from_network(
    scenario: Scenario, n_reports: int, seed: int | None = None, start_s: float = 0.0
) -> Calibration:
    """Collect ``n_reports`` from the network (the simulated physical layer) and fit."""
    seed = scenario.seed if seed is None else int(seed)
    return calibrate(scenario, collect_reports(scenario, n_reports, seed, start_s), seed=seed)
