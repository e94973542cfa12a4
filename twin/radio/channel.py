"""Channel maths: noise, path loss, LOS probability, shadowing fields and small-scale fading.

Pure and vectorized: every function takes arrays (typically ``(U, B)``, one entry per user
and base station) and returns arrays of the broadcast shape. The two classes hold random
state (a shadowing field over the area, the fading coefficients of every link) and draw only
from the generator they are given, so the same generator gives the same channel bit for bit.

Path loss and LOS probability follow 3GPP TR 38.901 (v17) Tables 7.4.1-1 and 7.4.2-1; the
table or equation a line implements is cited next to it. Distances are in metres, heights
in metres, carriers in GHz, losses in dB, gains and powers linear (mW).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import scipy.fft
from scipy.special import j0

PathLossModel = Literal["log_distance", "uma", "umi"]
FadingModel = Literal["none", "rayleigh", "rician"]
PATH_LOSS_MODELS: tuple[str, ...] = ("log_distance", "uma", "umi")
FADING_MODELS: tuple[str, ...] = ("none", "rayleigh", "rician")

SPEED_OF_LIGHT_MPS = 299_792_458.0
THERMAL_NOISE_DBM_PER_HZ = -174.0  # kT at 290 K
MIN_D2D_3GPP_M = 10.0  # TR 38.901 Table 7.4.1-1: UMa/UMi are valid for d2D >= 10 m
ENVIRONMENT_HEIGHT_M = 1.0  # h_E in d'_BP (Table 7.4.1-1 note 1; UMa's random h_E is not drawn)

# Shadowing field memory: all fields together stay under this many float32 grid points, and
# one field's FFT torus stays small enough to build in a few hundred MB at most.
MAX_SHADOWING_POINTS = 20_000_000
MAX_FIELD_POINTS = 1 << 20
_FFT_CHUNK_ELEMENTS = 1 << 22  # complex128 elements per batched FFT (64 MB)
# Default grid spacing, in decorrelation distances. Bilinear interpolation of an exponential
# field, renormalized to unit variance, overstates the correlation by about 0.5 * spacing /
# decorrelation (relative): 1/8 keeps that near 6%.
DEFAULT_SPACING_FRACTION = 1 / 8
TORUS_MARGIN = 8.0  # decorrelation distances of padding around the grid on the FFT torus


def _check_model(model: str, allowed: tuple[str, ...], what: str) -> None:
    if model not in allowed:
        raise ValueError(f"unknown {what} model {model!r}; allowed: {', '.join(allowed)}")


# --------------------------------------------------------------------------- noise, Doppler


def thermal_noise_mw(bandwidth_hz: float, noise_figure_db: float) -> float:
    """Receiver noise power ``-174 dBm/Hz + 10 log10(B) + NF``, in mW."""
    if bandwidth_hz <= 0:
        raise ValueError(f"bandwidth_hz must be positive, got {bandwidth_hz}")
    noise_dbm = THERMAL_NOISE_DBM_PER_HZ + 10.0 * math.log10(bandwidth_hz) + noise_figure_db
    return 10.0 ** (noise_dbm / 10.0)


def doppler_hz(speed_mps: np.ndarray | float, carrier_ghz: float) -> np.ndarray:
    """Maximum Doppler shift ``f_d = v f_c / c``, in Hz."""
    return np.asarray(speed_mps, dtype=float) * (carrier_ghz * 1e9 / SPEED_OF_LIGHT_MPS)


def gauss_markov_rho(doppler_hz: np.ndarray | float, dt_s: float) -> np.ndarray:
    """Jakes' correlation of a fading coefficient ``dt_s`` apart: ``rho = J0(2 pi f_d dt)``."""
    return j0(2.0 * np.pi * np.asarray(doppler_hz, dtype=float) * dt_s)


# --------------------------------------------------------------------------- LOS probability


def los_probability(
    model: PathLossModel, d2d_m: np.ndarray | float, h_ut_m: np.ndarray | float
) -> np.ndarray:
    """Probability that a link is line of sight, TR 38.901 Table 7.4.2-1 (outdoor users).

    ``log_distance`` has no LOS notion: every link is LOS (all ones). For UMa, ``C'(h_UT)``
    is evaluated with ``h_UT`` clipped to the table's 23 m upper limit.
    """
    _check_model(model, PATH_LOSS_MODELS, "path loss")
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
) -> np.ndarray:
    """Path loss in dB of each link (positive: a loss).

    - ``uma`` / ``umi``: TR 38.901 Table 7.4.1-1, UMa and UMi street canyon. LOS links use
      PL1 below the breakpoint ``d'_BP = 4 h'_BS h'_UT f_c / c`` (``h' = h - h_E``,
      ``h_E = 1 m``) and PL2 beyond; NLOS links use ``max(PL_LOS, PL'_NLOS)``. The table is
      valid for ``10 m <= d2D <= 5 km``: ``d2D`` is clamped up to 10 m (and ``d3D`` to the
      matching slant distance) so users next to a mast do not get a near-zero loss; beyond
      5 km the formulas are extrapolated.
    - ``log_distance``: ``ref_loss_db + 10 n log10(d3D / d0)``, ``ref_loss_db`` defaulting to
      free space at ``d0``; ``d3D`` is clamped up to ``d0``. ``los`` is ignored.
    """
    _check_model(model, PATH_LOSS_MODELS, "path loss")
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
    too_close = d2d < MIN_D2D_3GPP_M
    d2d = np.maximum(d2d, MIN_D2D_3GPP_M)
    d3d = np.where(too_close, np.hypot(MIN_D2D_3GPP_M, h_bs - h_ut), d3d)
    log_d3d = np.log10(d3d)
    log_fc = math.log10(carrier_ghz)
    # Table 7.4.1-1 note 1: d'_BP = 4 h'_BS h'_UT f_c / c, f_c in Hz.
    d_bp = (
        4.0
        * (h_bs - ENVIRONMENT_HEIGHT_M)
        * (h_ut - ENVIRONMENT_HEIGHT_M)
        * (carrier_ghz * 1e9 / SPEED_OF_LIGHT_MPS)
    )
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
    _check_model(model, PATH_LOSS_MODELS, "path loss")
    los = np.asarray(los, dtype=bool)
    if model == "log_distance":
        return np.full(los.shape, 8.0)
    nlos_std = 6.0 if model == "uma" else 7.82
    return np.where(los, 4.0, nlos_std)


# --------------------------------------------------------------------------- shadowing


class ShadowingField:
    """Spatially correlated shadowing: one zero-mean, unit-variance Gaussian field per BS.

    Each field has the exponential (Gudmundson) correlation ``exp(-r / decorrelation_m)``
    in the distance ``r`` between two points, so a user moving a little sees almost the same
    shadowing, and two users far apart see independent values. Multiply by a std in dB.

    The fields are drawn on a grid (spacing ``decorrelation_m / 8`` unless given, coarsened
    so all fields together stay under :data:`MAX_SHADOWING_POINTS` float32 values) by FFT
    circulant embedding on a padded torus, and read off by bilinear interpolation.
    Interpolating lowers the variance between grid nodes, so every sample is divided by the
    exact std of its interpolant: the marginal std is exactly 1 everywhere, at the price of
    a correlation slightly above ``exp(-r/d)`` (about 6% relative at the default spacing).
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_bs: int,
        width_m: float,
        height_m: float,
        decorrelation_m: float,
        spacing_m: float | None = None,
    ):
        if n_bs < 1:
            raise ValueError(f"n_bs must be at least 1, got {n_bs}")
        if width_m <= 0 or height_m <= 0 or decorrelation_m <= 0:
            raise ValueError("width_m, height_m and decorrelation_m must be positive")
        if spacing_m is None:
            spacing = decorrelation_m * DEFAULT_SPACING_FRACTION
        else:
            spacing = float(spacing_m)
        if spacing <= 0:
            raise ValueError(f"spacing_m must be positive, got {spacing_m}")
        while True:
            nx = math.ceil(width_m / spacing) + 1
            ny = math.ceil(height_m / spacing) + 1
            if nx * ny <= MAX_FIELD_POINTS and n_bs * nx * ny <= MAX_SHADOWING_POINTS:
                break
            spacing *= 1.1
        self.n_bs = n_bs
        self.decorrelation_m = float(decorrelation_m)
        self.spacing_m = spacing
        self.shape = (ny, nx)
        self._field, corner_corr = self._draw(rng, n_bs, nx, ny, spacing, decorrelation_m)
        self._corner_corr = corner_corr
        # Constants of sample(): the last node (x, y), the last cell's lower-left node, and
        # the offsets of a cell's corners (0,0), (1,0), (0,1), (1,1) in the flat node table.
        self._last_node = np.array([nx - 1, ny - 1], dtype=float)
        self._last_cell = np.array([nx - 2, ny - 2], dtype=np.intp)
        self._corner_offsets = np.array([0, 1, nx, nx + 1], dtype=np.intp)[:, None]

    @staticmethod
    def _draw(
        rng: np.random.Generator, n_bs: int, nx: int, ny: int, spacing: float, dcorr: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The fields ``(ny, nx, n_bs)`` float32, and the 4x4 correlation of a cell's corners."""
        # Torus: twice the grid, so no grid lag wraps, or the grid plus a margin of
        # TORUS_MARGIN decorrelation distances if smaller (a wrapped lag then has a
        # correlation below exp(-TORUS_MARGIN) instead of its true, even smaller, value).
        margin = math.ceil(TORUS_MARGIN * dcorr / spacing)
        my = scipy.fft.next_fast_len(min(2 * ny, ny + margin))
        mx = scipy.fft.next_fast_len(min(2 * nx, nx + margin))
        ly = np.minimum(np.arange(my), my - np.arange(my)) * spacing
        lx = np.minimum(np.arange(mx), mx - np.arange(mx)) * spacing
        cov = np.exp(-np.hypot(ly[:, None], lx[None, :]) / dcorr)
        eig = scipy.fft.fft2(cov).real
        # The wrapped exponential is not exactly positive definite: drop the small negative
        # eigenvalues, then use the covariance of what is actually drawn.
        eig = np.maximum(eig, 0.0)
        drawn_cov = scipy.fft.ifft2(eig).real
        std0 = math.sqrt(drawn_cov[0, 0])
        # X = FFT(sqrt(eig / M) W), W ~ CN(0, 2): Re X and Im X are independent N(0, cov).
        scale = np.sqrt(eig / (mx * my))[:, :, None] / std0

        by_bs = np.empty((n_bs, ny, nx), dtype=np.float32)
        # One complex FFT gives two independent real fields (its real and imaginary parts).
        n_pairs = (n_bs + 1) // 2
        chunk = max(1, _FFT_CHUNK_ELEMENTS // (mx * my))
        j = 0
        for start in range(0, n_pairs, chunk):
            k = min(chunk, n_pairs - start)
            w = np.empty((k, my, mx), dtype=np.complex128)
            w_re_im = w.view(np.float64).reshape(k, my, mx, 2)
            rng.standard_normal(out=w_re_im)
            w_re_im *= scale
            x = scipy.fft.fft2(w, axes=(-2, -1), overwrite_x=True)[:, :ny, :nx]
            for part in (x.real, x.imag):
                take = min(k, n_bs - j)
                by_bs[j : j + take] = part[:take]
                j += take
        # Stored (ny, nx, B) so that reading every BS at one point is one contiguous row.
        field = np.ascontiguousarray(np.moveaxis(by_bs, 0, -1))
        # Correlation between the corners (0,0), (0,1), (1,0), (1,1) of a grid cell, in
        # (x-offset, y-offset) order, from the drawn covariance.
        rx = drawn_cov[0, 1] / drawn_cov[0, 0]
        ry = drawn_cov[1, 0] / drawn_cov[0, 0]
        rd = drawn_cov[1, 1] / drawn_cov[0, 0]
        corner = np.array(
            [
                [1.0, rx, ry, rd],
                [rx, 1.0, rd, ry],
                [ry, rd, 1.0, rx],
                [rd, ry, rx, 1.0],
            ]
        )
        return field, corner

    def sample(self, positions: np.ndarray) -> np.ndarray:
        """Field values ``(N, n_bs)`` at ``positions`` ``(N, 2)``, each N(0, 1) marginally.

        Points outside the area are read at the nearest grid edge.
        """
        pos = np.asarray(positions, dtype=float).reshape(-1, 2)
        ny, nx = self.shape
        n_points, n_bs = pos.shape[0], self._field.shape[2]
        # Grid coordinates (x, y) of every point, clipped to the grid: max(0, .) first, as
        # np.clip does (a -0.0 becomes +0.0), then min(., last node).
        f = np.maximum(0.0, pos / self.spacing_m)
        np.minimum(f, self._last_node, out=f)
        cell = np.minimum(f.astype(np.intp), self._last_cell)  # lower-left node (ix, iy)
        t = f - cell  # offsets (tx, ty) in the cell
        tx, ty = t[:, 0], t[:, 1]
        sx, sy = 1 - tx, 1 - ty
        # Bilinear weights of the corners (x, y) = (0,0), (1,0), (0,1), (1,1).
        w = np.empty((n_points, 4))
        np.multiply(sx, sy, out=w[:, 0])
        np.multiply(tx, sy, out=w[:, 1])
        np.multiply(sx, ty, out=w[:, 2])
        np.multiply(tx, ty, out=w[:, 3])
        # The four corners of every point in one gather from the (ny * nx, B) node table,
        # weighted, then summed corner by corner in the order (0,0) + (1,0) + (0,1) + (1,1).
        corners = (cell[:, 1] * nx + cell[:, 0]) + self._corner_offsets  # (4, N)
        values = np.take(self._field.reshape(ny * nx, n_bs), corners, axis=0)  # (4, N, B)
        weighted = w.T[:, :, None] * values
        value = weighted[0] + weighted[1]
        value += weighted[2]
        value += weighted[3]
        # Var(sum_k w_k F_k) = w^T C w for unit-variance corners with correlation C.
        std = np.sqrt(np.einsum("ni,ij,nj->n", w, self._corner_corr, w))
        value /= std[:, None]
        return value


# --------------------------------------------------------------------------- fading


class FadingProcess:
    """Small-scale fading of every link, time-correlated by a first-order Gauss-Markov model.

    The scattered part evolves as ``h <- rho h + sqrt(1 - rho^2) w`` with ``w ~ CN(0, 1)``
    and ``rho = J0(2 pi f_d dt)`` per user (users move at different speeds), so consecutive
    samples have Jakes' lag-one correlation and the stationary law is ``CN(0, 1)``.

    - ``none``: power gain 1, no randomness drawn.
    - ``rayleigh``: ``h ~ CN(0, 1)``.
    - ``rician``: ``h = sqrt(K/(K+1)) e^{j theta} + sqrt(1/(K+1)) h_s`` with a fixed LOS phase
      ``theta`` per link and a Gauss-Markov scattered part ``h_s``.

    ``power()`` is ``|h|^2`` with mean 1.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_users: int,
        n_bs: int,
        model: FadingModel = "rayleigh",
        k_factor_db: float = 9.0,
    ):
        _check_model(model, FADING_MODELS, "fading")
        self.rng = rng
        self.model = model
        self.shape = (n_users, n_bs)
        self.k_factor_db = k_factor_db
        if model == "none":
            return
        k = 10.0 ** (k_factor_db / 10.0) if model == "rician" else 0.0
        # The scattered part is stored already scaled by sqrt(1/(K+1)); the recursion is
        # linear, so the scale simply multiplies its innovation.
        self._scatter_std = math.sqrt(1.0 / (k + 1.0))
        self._h = np.empty(self.shape, dtype=np.complex128)
        self._h_view = self._h.view(np.float64)  # (U, 2B): re, im interleaved
        rng.standard_normal(out=self._h_view)
        self._h_view *= self._scatter_std / math.sqrt(2.0)
        self._noise = np.empty(self.shape, dtype=np.complex128)
        self._noise_view = self._noise.view(np.float64)
        # (rho, rho column, innovation column) of the last read-only rho array stepped with
        self._factors: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._los: np.ndarray | None = None
        if model == "rician":
            theta = rng.uniform(0.0, 2.0 * np.pi, self.shape)
            self._los = math.sqrt(k / (k + 1.0)) * np.exp(1j * theta)

    @property
    def h(self) -> np.ndarray:
        """The complex coefficients ``(U, B)`` (a new array; ones for ``none``)."""
        if self.model == "none":
            return np.ones(self.shape, dtype=np.complex128)
        if self._los is None:
            return self._h.copy()
        return self._h + self._los

    def step(self, rho: np.ndarray | float) -> None:
        """Advance every link by one step of correlation ``rho`` (scalar or one per user)."""
        if self.model == "none":
            return
        rho_col, innovation_col = self._step_factors(rho)
        # In place on the float views: h = rho h + s w, with w drawn straight into a buffer.
        noise = self._noise_view
        self.rng.standard_normal(out=noise)
        noise *= innovation_col
        self._h_view *= rho_col
        self._h_view += noise

    def _step_factors(self, rho: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """``rho`` and the innovation scale ``sqrt(1 - rho^2) s / sqrt(2)`` as ``(U, 1)``
        columns. Kept for the next step when ``rho`` is a read-only array (it cannot change
        in place, so the same object means the same values)."""
        if self._factors is not None and self._factors[0] is rho:
            return self._factors[1], self._factors[2]
        rho_u = np.broadcast_to(np.asarray(rho, dtype=float), (self.shape[0],))
        innovation = np.sqrt(np.maximum(1.0 - rho_u * rho_u, 0.0)) * (
            self._scatter_std / math.sqrt(2)
        )
        rho_col, innovation_col = rho_u[:, None], innovation[:, None]
        if isinstance(rho, np.ndarray) and not rho.flags.writeable:
            self._factors = (rho, rho_col, innovation_col)
        return rho_col, innovation_col

    def power(self) -> np.ndarray:
        """Power gains ``|h|^2`` ``(U, B)``, mean 1 (a new array)."""
        if self.model == "none":
            return np.ones(self.shape)
        if self._los is None:
            h = self._h
        else:
            h = self._noise  # scratch: the next step overwrites it anyway
            np.add(self._h, self._los, out=h)
        out = np.multiply(h.real, h.real)
        out += h.imag * h.imag
        return out
