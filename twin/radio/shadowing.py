"""Spatially correlated shadowing: one Gaussian field per BS, and the spec's decorrelation.

:class:`ShadowingField` draws zero-mean, unit-variance fields with the exponential
(Gudmundson) correlation ``exp(-r / d)``; :func:`default_decorrelation_m` gives ``d`` per
path-loss model and LOS state from TR 38.901 Table 7.5-6 (the SF row). Both draw only from
the generator they are given, so the same generator gives the same fields bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from twin.radio.pathloss import PATH_LOSS_MODELS, PathLossModel, check_model

# TR 38.901 Table 7.5-6 Part-1, shadow-fading correlation distance (LOS, NLOS), m. The
# spec has no log-distance model: it keeps the 50 m this twin always used for it (every
# log-distance link is LOS).
DECORRELATION_M: dict[str, tuple[float, float]] = {
    "uma": (37.0, 50.0),
    "umi": (10.0, 13.0),
    "log_distance": (50.0, 50.0),
}
LEGACY_DECORRELATION_M = 50.0  # the one distance every model used before the spec's defaults

# Field memory: all fields together stay under this many float32 grid points, and one
# field's FFT torus stays small enough to build in a few hundred MB at most.
MAX_SHADOWING_POINTS = 20_000_000
MAX_FIELD_POINTS = 1 << 20
_FFT_CHUNK_ELEMENTS = 1 << 22  # complex128 elements per batched FFT (64 MB)
# Default grid spacing, in decorrelation distances. Read at the nearest node, a field's
# correlation averaged over positions is within 1.1% of exp(-r/d) at 1/8 (1.9% at 1/4,
# 3.1% at 1/2, where a large network's grid may be coarsened to fit the memory cap).
DEFAULT_SPACING_FRACTION = 1 / 8
TORUS_MARGIN = 8.0  # decorrelation distances of padding around the grid on the FFT torus


def default_decorrelation_m(model: PathLossModel, los: bool) -> float:
    """Shadowing decorrelation distance, m: TR 38.901 Table 7.5-6 (UMa 37 / 50 m, UMi street
    canyon 10 / 13 m, LOS / NLOS); 50 m for log_distance."""
    check_model(model, PATH_LOSS_MODELS, "path loss")
    return DECORRELATION_M[model][0 if los else 1]


def decorrelation_pair_m(model: PathLossModel, override_m: float | None) -> tuple[float, float]:
    """``(LOS, NLOS)`` decorrelation distances: the scenario's value for both when it gives
    one, else the spec's per state."""
    if override_m is not None:
        return float(override_m), float(override_m)
    return default_decorrelation_m(model, True), default_decorrelation_m(model, False)


class ShadowingField:
    """Spatially correlated shadowing: one zero-mean, unit-variance Gaussian field per BS.

    Each field has the exponential (Gudmundson) correlation ``exp(-r / decorrelation_m)``
    in the distance ``r`` between two points, so a user moving a little sees almost the same
    shadowing, and two users far apart see independent values. Multiply by a std in dB.

    The fields are drawn on a grid (spacing ``decorrelation_m / 8`` unless given, coarsened
    so all fields together stay under ``max_points`` float32 values) by FFT circulant
    embedding on a padded torus, which gives the grid nodes the exact exponential
    correlation. A point reads its nearest node, so every value is exactly N(0, 1) and two
    points ``r`` apart are correlated as ``exp(-r'/d)`` with ``r'`` their nodes' distance:
    averaged over where the points fall in their cells that is ``exp(-r/d)`` within 1.1%
    at every ``r`` at the default spacing (``tests/twin/radio/test_shadowing.py`` measures
    it). The price is a field constant over each cell: a walking user's shadowing changes
    in steps of one spacing, each the exponential model's increment over that distance.
    (Bilinear interpolation, renormalized to unit variance, was smooth but overstated the
    correlation by 7.7% at the same spacing.)
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_bs: int,
        width_m: float,
        height_m: float,
        decorrelation_m: float,
        spacing_m: float | None = None,
        max_points: int | None = None,
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
        budget = MAX_SHADOWING_POINTS if max_points is None else int(max_points)
        while True:
            nx = math.ceil(width_m / spacing) + 1
            ny = math.ceil(height_m / spacing) + 1
            if nx * ny <= MAX_FIELD_POINTS and n_bs * nx * ny <= budget:
                break
            spacing *= 1.1
        self.n_bs = n_bs
        self.decorrelation_m = float(decorrelation_m)
        self.spacing_m = spacing
        self.shape = (ny, nx)
        self._field = self._draw(rng, n_bs, nx, ny, spacing, decorrelation_m)
        self._last_node = np.array([nx - 1, ny - 1], dtype=np.intp)

    @staticmethod
    def _draw(
        rng: np.random.Generator, n_bs: int, nx: int, ny: int, spacing: float, dcorr: float
    ) -> np.ndarray:
        """The fields ``(ny, nx, n_bs)`` float32, unit variance at every node."""
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
        # eigenvalues, and scale by the variance of what is actually drawn.
        eig = np.maximum(eig, 0.0)
        std0 = math.sqrt(float(eig.sum()) / (mx * my))
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
        return np.ascontiguousarray(np.moveaxis(by_bs, 0, -1))

    def sample(self, positions: np.ndarray) -> np.ndarray:
        """Field values ``(N, n_bs)`` at ``positions`` ``(N, 2)``, each N(0, 1): the nearest
        grid node's. Points outside the area read the nearest edge node."""
        pos = np.asarray(positions, dtype=float).reshape(-1, 2)
        nx = self.shape[1]
        # Nearest node (ix, iy): floor(p / spacing + 1/2), clipped to the grid.
        node = np.floor(pos / self.spacing_m + 0.5)
        np.maximum(node, 0.0, out=node)
        index = node.astype(np.intp)
        np.minimum(index, self._last_node, out=index)
        flat = index[:, 1] * nx + index[:, 0]
        rows = self._field.reshape(-1, self.n_bs)
        return np.take(rows, flat, axis=0).astype(np.float64)
