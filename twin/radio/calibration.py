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

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
from scipy import integrate, stats

from twin.core.errors import CalibrationError
from twin.core.seeding import stream
from twin.radio.channel import default_shadowing_std_db, doppler_hz, gauss_markov_rho
from twin.radio.mobility import place_base_stations
from twin.rollout.validation import canonical_json, scenario_digest
from twin.scenario.schema import Scenario
from twin.sim.physical import ChannelReport

CALIBRATION_FORMAT = "aign.calibration/1"
REF_DISTANCE_M = 1.0  # the fitted law's reference distance d0
DB_PER_NEPER = 10.0 / math.log(10.0)  # 10 log10(x) = DB_PER_NEPER * ln(x)
BIN_FRACTION = 1 / 8  # bin size as a fraction of the decorrelation distance
MAP_FRACTION = 1 / 4  # map grid spacing as a fraction of the decorrelation distance
MAX_BINS_PER_BS = 1500  # kriging solves an M x M system per BS; bins are coarsened past this
MAX_MAP_NODES = 20_000  # grid nodes per BS map (its spacing is coarsened past this)
PRIOR_BINS = 10  # weight, in bins, of the scenario's shadowing std in the variance estimate
MIN_BINS = 3
MIN_LOG_DISTANCE_SPREAD_DB = 0.5  # 10 log10(d) must vary this much to fit an exponent
MAX_REPORT_WAIT_FACTOR = 100  # collect_reports gives up after this many expected periods
_KRIGING_CHUNK = 4096


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


def effective_counts(counts: np.ndarray, r: float) -> np.ndarray:
    """Effective number of independent samples among ``n`` consecutive samples of an AR(1)
    sequence with lag-one correlation ``r``: ``n / (1 + 2 sum_k (1 - k/n) r^k)``."""
    counts = np.asarray(counts, dtype=np.int64)
    n_max = int(counts.max(initial=1))
    k = np.arange(n_max, dtype=float)
    with np.errstate(under="ignore"):
        powers = np.abs(r) ** k if r >= 0 else r**k
    a = np.cumsum(powers) - 1.0  # a[n-1] = sum_{k=1}^{n-1} r^k
    b = np.cumsum(k * powers)  # b[n-1] = sum_{k=1}^{n-1} k r^k
    n = counts.astype(float)
    idx = counts - 1
    denom = 1.0 + 2.0 * (a[idx] - b[idx] / n)
    return n / np.maximum(denom, 1.0)


# --------------------------------------------------------------------------- the value
@dataclass(frozen=True)
class PathLossFit:
    """The fitted law ``L(d) = intercept_db + 10 exponent log10(d / ref_distance_m)``."""

    exponent: float
    intercept_db: float
    exponent_stderr: float
    intercept_stderr_db: float
    ref_distance_m: float = REF_DISTANCE_M

    def loss_db(self, d3d_m: np.ndarray) -> np.ndarray:
        d = np.maximum(np.asarray(d3d_m, dtype=float), self.ref_distance_m)
        return self.intercept_db + 10.0 * self.exponent * np.log10(d / self.ref_distance_m)


@dataclass(frozen=True)
class ShadowingMap:
    """Kriged shadowing residuals per BS: the posterior mean and its standard deviation, dB.

    The mean is exact at any point: ``sum_k w_k exp(-|x - p_k| / decorrelation_m)`` over the
    support points ``p_k`` of that BS (the binned reports; ``w = s^2 K^-1 r``, simple
    kriging). The std is kept on a grid ``std_db`` ``(ny, nx, B)``, node ``(iy, ix)`` at
    ``(ix * spacing_m, iy * spacing_m)``, read bilinearly. ``prior_std_db`` (the fitted
    shadowing std) is the std far from any report.
    """

    decorrelation_m: float
    prior_std_db: float
    support_xy: np.ndarray  # (M, 2) m
    support_bs: np.ndarray  # (M,) BS index
    weights_db: np.ndarray  # (M,) dB
    spacing_m: float
    std_db: np.ndarray  # (ny, nx, B) dB

    @property
    def n_bs(self) -> int:
        return self.std_db.shape[2]

    def mean_at(self, points: np.ndarray) -> np.ndarray:
        """Posterior mean ``(N, B)`` at ``points`` ``(N, 2)``, dB."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        weights = np.zeros((self.weights_db.size, self.n_bs))
        weights[np.arange(self.weights_db.size), self.support_bs] = self.weights_db
        out = np.empty((pts.shape[0], self.n_bs))
        for start in range(0, pts.shape[0], _KRIGING_CHUNK):
            chunk = slice(start, start + _KRIGING_CHUNK)
            out[chunk] = _correlation(pts[chunk], self.support_xy, self.decorrelation_m) @ weights
        return out

    def std_at(self, points: np.ndarray) -> np.ndarray:
        """Posterior std ``(N, B)`` at ``points``, dB: bilinear on the grid (clipped to it)."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        grid = self.std_db
        ny, nx, _ = grid.shape
        f = np.clip(pts / self.spacing_m, 0.0, [nx - 1, ny - 1])
        ix0 = np.minimum(f[:, 0].astype(np.intp), max(nx - 2, 0))
        iy0 = np.minimum(f[:, 1].astype(np.intp), max(ny - 2, 0))
        tx, ty = (f[:, 0] - ix0)[:, None], (f[:, 1] - iy0)[:, None]
        ix1, iy1 = np.minimum(ix0 + 1, nx - 1), np.minimum(iy0 + 1, ny - 1)
        return (
            grid[iy0, ix0] * (1 - tx) * (1 - ty)
            + grid[iy0, ix1] * tx * (1 - ty)
            + grid[iy1, ix0] * (1 - tx) * ty
            + grid[iy1, ix1] * tx * ty
        )


@dataclass(frozen=True)
class Calibration:
    """What the reports say about the channel: a path-loss law and a shadowing map.

    Applied by :class:`~twin.radio.network.RadioNetwork` (``calibration=``) in place of the
    scenario's path loss and shadowing; fading, noise and everything else are unchanged.
    """

    scenario: str
    scenario_digest: str
    path_loss: PathLossFit
    shadowing: ShadowingMap | None
    reports: int
    samples: int
    bins: int
    seed: int | None
    fading_bias_db: float
    sample_noise_db2: float

    def loss_db(
        self, points: np.ndarray, d3d_m: np.ndarray, field: np.ndarray | None
    ) -> np.ndarray:
        """Large-scale loss ``(N, B)`` in dB at ``points``: the fitted law, the map's mean,
        and ``field`` (a unit Gaussian field ``(N, B)``, or None) times the map's std."""
        loss = self.path_loss.loss_db(d3d_m)
        if self.shadowing is not None:
            loss += self.shadowing.mean_at(points)
            if field is not None:
                loss += self.shadowing.std_at(points) * field
        return loss

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        pl = self.path_loss
        data: dict[str, Any] = {
            "format": CALIBRATION_FORMAT,
            "scenario": {"name": self.scenario, "digest": self.scenario_digest},
            "reports": self.reports,
            "samples": self.samples,
            "bins": self.bins,
            "seed": self.seed,
            "fading_bias_db": self.fading_bias_db,
            "sample_noise_db2": self.sample_noise_db2,
            "path_loss": {
                "model": "log_distance",
                "exponent": pl.exponent,
                "intercept_db": pl.intercept_db,
                "ref_distance_m": pl.ref_distance_m,
                "exponent_stderr": pl.exponent_stderr,
                "intercept_stderr_db": pl.intercept_stderr_db,
            },
            "shadowing": None,
        }
        if self.shadowing is not None:
            sh = self.shadowing
            data["shadowing"] = {
                "decorrelation_m": sh.decorrelation_m,
                "prior_std_db": sh.prior_std_db,
                # the kriging support: the mean at x is sum_k weight_k exp(-|x - p_k| / d)
                "support": {
                    "x_m": np.round(sh.support_xy[:, 0], 3).tolist(),
                    "y_m": np.round(sh.support_xy[:, 1], 3).tolist(),
                    "bs": sh.support_bs.tolist(),
                    "weight_db": np.round(sh.weights_db, 6).tolist(),
                },
                "spacing_m": sh.spacing_m,
                # (B, ny, nx): one std map per BS, rows along y; 0.001 dB is below any error
                "std_db": np.round(np.moveaxis(sh.std_db, -1, 0), 3).tolist(),
            }
        return data

    def digest(self) -> str:
        """Identity of this calibration (what a validation report cites)."""
        return hashlib.sha256(canonical_json(self.to_dict())).hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        """What a validation report and ``aign calibrate`` print: no maps."""
        data = self.to_dict()
        data.pop("shadowing")
        data.pop("format")
        data["digest"] = self.digest()
        if self.shadowing is not None:
            sh = self.shadowing
            data["shadowing"] = {
                "decorrelation_m": sh.decorrelation_m,
                "prior_std_db": sh.prior_std_db,
                "support_points": int(sh.weights_db.size),
                "std_map_shape": list(np.moveaxis(sh.std_db, -1, 0).shape),
                "std_db_min": float(sh.std_db.min()),
            }
        return data

    def save(self, path: str | os.PathLike) -> None:
        from twin.radio.instance import write_json_atomic

        write_json_atomic(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, source: str = "<calibration>") -> Calibration:
        """Parse and check a calibration's JSON data; :class:`CalibrationError` says what is
        wrong with it."""

        def bad(what: str) -> CalibrationError:
            return CalibrationError(f"{source}: not a usable calibration: {what}")

        if not isinstance(data, dict):
            raise bad("expected a JSON object")
        fmt = data.get("format")
        if fmt != CALIBRATION_FORMAT:
            if isinstance(fmt, str) and fmt.startswith("aign.calibration/"):
                raise bad(f"format {fmt!r} is not {CALIBRATION_FORMAT!r} (upgrade aign?)")
            raise bad(f"format is {fmt!r}, expected {CALIBRATION_FORMAT!r}")
        try:
            scen = data["scenario"]
            pl = data["path_loss"]
            fit = PathLossFit(
                exponent=_number(pl["exponent"], "path_loss.exponent"),
                intercept_db=_number(pl["intercept_db"], "path_loss.intercept_db"),
                exponent_stderr=_number(pl["exponent_stderr"], "path_loss.exponent_stderr"),
                intercept_stderr_db=_number(
                    pl["intercept_stderr_db"], "path_loss.intercept_stderr_db"
                ),
                ref_distance_m=_number(pl["ref_distance_m"], "path_loss.ref_distance_m"),
            )
            if not 0 < fit.exponent <= 10 or fit.ref_distance_m <= 0:
                raise ValueError("path_loss.exponent must be in (0, 10], ref_distance_m > 0")
            sh = data["shadowing"]
            shadowing = None
            if sh is not None:
                shadowing = _shadowing_from_dict(sh)
            seed = data["seed"]
            return cls(
                scenario=str(scen["name"]),
                scenario_digest=str(scen["digest"]),
                path_loss=fit,
                shadowing=shadowing,
                reports=int(data["reports"]),
                samples=int(data["samples"]),
                bins=int(data["bins"]),
                seed=None if seed is None else int(seed),
                fading_bias_db=_number(data["fading_bias_db"], "fading_bias_db"),
                sample_noise_db2=_number(data["sample_noise_db2"], "sample_noise_db2"),
            )
        except KeyError as exc:
            raise bad(f"missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise bad(str(exc)) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        """Read a calibration file (as ``aign calibrate --out`` writes it)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CalibrationError(f"cannot read the calibration {path}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        return cls.from_dict(data, source=str(path))


def _shadowing_from_dict(sh: dict[str, Any]) -> ShadowingMap:
    sup = sh["support"]
    xy = np.stack([np.asarray(sup["x_m"], dtype=float), np.asarray(sup["y_m"], dtype=float)], 1)
    bs = np.asarray(sup["bs"])
    weights = np.asarray(sup["weight_db"], dtype=float)
    std = np.asarray(sh["std_db"], dtype=float)
    if std.ndim != 3 or min(std.shape) < 1:
        raise ValueError("shadowing.std_db must be a (B, ny, nx) array")
    if xy.ndim != 2 or not (xy.shape[0] == bs.shape[0] == weights.shape[0]) or bs.ndim != 1:
        raise ValueError("shadowing.support needs x_m, y_m, bs and weight_db of one length")
    if bs.size and (bs.dtype.kind not in "iu" or bs.min() < 0 or bs.max() >= std.shape[0]):
        raise ValueError(f"shadowing.support.bs must be BS indices 0..{std.shape[0] - 1}")
    if not (np.isfinite(xy).all() and np.isfinite(weights).all() and np.isfinite(std).all()):
        raise ValueError("shadowing values must be finite")
    if (std < 0).any():
        raise ValueError("shadowing.std_db must be >= 0")
    return ShadowingMap(
        decorrelation_m=_number(sh["decorrelation_m"], "shadowing.decorrelation_m", True),
        prior_std_db=_number(sh["prior_std_db"], "shadowing.prior_std_db"),
        support_xy=xy,
        support_bs=bs.astype(np.intp),
        weights_db=weights,
        spacing_m=_number(sh["spacing_m"], "shadowing.spacing_m", positive=True),
        std_db=np.ascontiguousarray(np.moveaxis(std, 0, -1)),
    )


def _number(value: Any, name: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or (positive and x <= 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number")
    return x


def check_calibration(scenario: Scenario, calibration: Calibration, source: str = "") -> None:
    """Refuse a calibration fitted for another scenario, or another version of this one."""
    where = f"{source}: " if source else ""
    if calibration.scenario != scenario.name:
        raise CalibrationError(
            f"{where}the calibration was fitted for scenario {calibration.scenario!r}, not "
            f"{scenario.name!r}; run `aign calibrate {scenario.name}`"
        )
    digest = scenario_digest(scenario)
    if calibration.scenario_digest != digest:
        raise CalibrationError(
            f"{where}the calibration was fitted for another version of scenario "
            f"{scenario.name!r} (digest {calibration.scenario_digest}, now {digest}); run "
            f"`aign calibrate {scenario.name}` again"
        )
    if scenario.channel.mode == "explicit":
        raise CalibrationError(f"{where}scenario {scenario.name!r} gives its gains explicitly")
    n_bs = scenario.base_stations.n
    if calibration.shadowing is not None and calibration.shadowing.n_bs != n_bs:
        raise CalibrationError(
            f"{where}the shadowing map has {calibration.shadowing.n_bs} BSs, the scenario {n_bs}"
        )


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


def _report_correlation(scenario: Scenario) -> float:
    """Lag-one correlation of a link's fading power between consecutive reports: ``rho^2``
    with Jakes' ``rho`` at the users' mean speed, compounded over the steps in between."""
    channel = scenario.channel
    if channel.fading.model == "none":
        return 0.0
    lo, hi = scenario.users.speed_range
    f_d = doppler_hz(0.5 * (lo + hi), channel.carrier_ghz)
    rho_step = float(gauss_markov_rho(f_d, scenario.step_s))
    steps = max(1, round(scenario.sync.report_period_s / scenario.step_s))
    return (rho_step**2) ** steps


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
    dcorr = channel.shadowing.decorrelation_m
    h = scenario.base_stations.height_m - scenario.users.height_m
    d2d = np.hypot(pos[:, 0:1] - bs_pos[:, 0], pos[:, 1:2] - bs_pos[:, 1])
    x_all = 10.0 * np.log10(np.maximum(np.hypot(d2d, h), REF_DISTANCE_M) / REF_DISTANCE_M)
    y_all = loss + bias_db  # unbiased estimate of the large-scale loss

    r_fading = _report_correlation(scenario)
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


def _correlation(a: np.ndarray, b: np.ndarray, dcorr: float) -> np.ndarray:
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return np.exp(-d / dcorr)


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
    dcorr = scenario.channel.shadowing.decorrelation_m
    design = np.stack([np.ones(m), bins.x], axis=1)
    # Shadowing fields of different BSs are independent: the covariance is block-diagonal.
    same_bs = bins.bs[:, None] == bins.bs[None, :]
    corr = _correlation(bins.pos, bins.pos, dcorr) * same_bs
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
        cov = var * _correlation(pts, pts, dcorr) + np.diag(bins.noise[mine] + 1e-9)
        chol = scipy.linalg.cholesky(cov, lower=True)
        weights[mine] = var * scipy.linalg.cho_solve((chol, True), resid[mine])
        for start in range(0, nodes.shape[0], _KRIGING_CHUNK):
            chunk = slice(start, start + _KRIGING_CHUNK)
            k_star = var * _correlation(nodes[chunk], pts, dcorr)  # (G, M)
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
