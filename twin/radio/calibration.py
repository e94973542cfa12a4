"""A calibration: the path-loss law and shadowing map fitted to the network's reports.

The value that :func:`twin.rollout.calibrate.calibrate` produces and
:class:`~twin.radio.network.RadioNetwork` applies (``calibration=``) in place of the
scenario's path loss and shadowing. The calibrated twin's large-scale loss is
``L(d) + mean(x) + std(x) z(x)`` with ``z`` the twin's own unit shadowing field: known where
reports were, the scenario's randomness (with the fitted variance) where none were. Stored
as JSON (``aign.calibration/1``), tied to one scenario version by its digest; never pickled.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.core.errors import CalibrationError
from twin.core.files import JsonLimits, read_json
from twin.core.records import canonical_json
from twin.scenario.derive import scenario_digest
from twin.scenario.schema import Scenario

CALIBRATION_FORMAT = "aign.calibration/1"
REF_DISTANCE_M = 1.0  # the fitted law's reference distance d0
CALIBRATION_LIMITS = JsonLimits(max_bytes=256_000_000)  # a map's std grid is up to 20M points
MAX_STD_POINTS = 20_000_000  # as the twin's own shadowing fields (twin.radio.channel)
KRIGING_CHUNK = 4096


def correlation(a: np.ndarray, b: np.ndarray, dcorr: float) -> np.ndarray:
    """Exponential shadowing correlation ``exp(-|a_i - b_j| / dcorr)`` between point sets."""
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return np.exp(-d / dcorr)


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
        for start in range(0, pts.shape[0], KRIGING_CHUNK):
            chunk = slice(start, start + KRIGING_CHUNK)
            out[chunk] = correlation(pts[chunk], self.support_xy, self.decorrelation_m) @ weights
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
        from twin.core.files import write_json_atomic

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
                intercept_db=_number(pl["intercept_db"], "path_loss.intercept_db", lo=-100,
                                     hi=300),  # fmt: skip
                exponent_stderr=_number(pl["exponent_stderr"], "path_loss.exponent_stderr",
                                        lo=0, hi=1e3),  # fmt: skip
                intercept_stderr_db=_number(
                    pl["intercept_stderr_db"], "path_loss.intercept_stderr_db", lo=0, hi=1e3
                ),
                ref_distance_m=_number(pl["ref_distance_m"], "path_loss.ref_distance_m",
                                       hi=1e4),  # fmt: skip
            )
            if not 0 < fit.exponent <= 10 or fit.ref_distance_m <= 0:
                raise ValueError("path_loss.exponent must be in (0, 10], ref_distance_m > 0")
            sh = data["shadowing"]
            shadowing = None
            if sh is not None:
                shadowing = _shadowing_from_dict(sh)
            seed = data["seed"]
            return cls(
                scenario=_text(scen["name"], "scenario.name"),
                scenario_digest=_text(scen["digest"], "scenario.digest"),
                path_loss=fit,
                shadowing=shadowing,
                reports=_count(data["reports"], "reports"),
                samples=_count(data["samples"], "samples"),
                bins=_count(data["bins"], "bins"),
                seed=None if seed is None else _count(seed, "seed"),
                fading_bias_db=_number(data["fading_bias_db"], "fading_bias_db", lo=-100, hi=100),
                sample_noise_db2=_number(data["sample_noise_db2"], "sample_noise_db2", lo=0,
                                         hi=1e4),  # fmt: skip
            )
        except KeyError as exc:
            raise bad(f"missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise bad(str(exc)) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        """Read a calibration file (as ``aign calibrate --out`` writes it)."""
        data = read_json(path, CalibrationError, CALIBRATION_LIMITS, "calibration file")
        return cls.from_dict(data, source=str(path))


def _shadowing_from_dict(sh: dict[str, Any]) -> ShadowingMap:
    sup = sh["support"]
    xy = np.stack([_numbers(sup["x_m"], "x_m"), _numbers(sup["y_m"], "y_m")], 1)
    bs = np.asarray(sup["bs"])
    weights = _numbers(sup["weight_db"], "weight_db")
    std = _numbers(sh["std_db"], "std_db")
    if std.ndim != 3 or min(std.shape) < 1:
        raise ValueError("shadowing.std_db must be a (B, ny, nx) array")
    if std.size > MAX_STD_POINTS:
        raise ValueError(f"shadowing.std_db has {std.size} points; the limit is {MAX_STD_POINTS}")
    if (np.abs(weights) > 1e3).any() or (std > 100).any() or (np.abs(xy) > 1e7).any():
        raise ValueError("shadowing values out of range (|weight_db| <= 1e3, std_db <= 100, "
                         "positions within 1e7 m)")  # fmt: skip
    if xy.ndim != 2 or not (xy.shape[0] == bs.shape[0] == weights.shape[0]) or bs.ndim != 1:
        raise ValueError("shadowing.support needs x_m, y_m, bs and weight_db of one length")
    if bs.size and (bs.dtype.kind not in "iu" or bs.min() < 0 or bs.max() >= std.shape[0]):
        raise ValueError(f"shadowing.support.bs must be BS indices 0..{std.shape[0] - 1}")
    if not (np.isfinite(xy).all() and np.isfinite(weights).all() and np.isfinite(std).all()):
        raise ValueError("shadowing values must be finite")
    if (std < 0).any():
        raise ValueError("shadowing.std_db must be >= 0")
    return ShadowingMap(
        decorrelation_m=_number(sh["decorrelation_m"], "shadowing.decorrelation_m", True,
                                lo=0.1, hi=1e5),  # fmt: skip
        prior_std_db=_number(sh["prior_std_db"], "shadowing.prior_std_db", lo=0, hi=100),
        support_xy=xy,
        support_bs=bs.astype(np.intp),
        weights_db=weights,
        spacing_m=_number(sh["spacing_m"], "shadowing.spacing_m", positive=True, lo=1e-3,
                          hi=1e7),  # fmt: skip
        std_db=np.ascontiguousarray(np.moveaxis(std, 0, -1)),
    )


def _number(
    value: Any, name: str, positive: bool = False, lo: float = -1e12, hi: float = 1e12
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {str(value)[:40]!r}")
    x = float(value)
    if not math.isfinite(x) or (positive and x <= 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number")
    if not lo <= x <= hi:
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {x:g}")
    return x


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError(f"{name} must be a whole number >= 0, got {str(value)[:40]!r}")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise ValueError(f"{name} must be text of 1-200 characters")
    return value


def _numbers(value: Any, name: str) -> np.ndarray:
    """A nested list of JSON numbers (no text, no true/false) as a float array."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"shadowing {name} must be an array of numbers")
    return array.astype(float)


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
