"""Small-scale fading of every link, correlated in time with Jakes' spectrum at every lag.

A sum of sinusoids (Clarke's model with random phases and stratified arrival angles, as in
Pop & Beaulieu 2001 and Zheng & Xiao 2002): each link ``(u, b)`` is

    h_s(t) = M^-1/2 sum_{m<M} exp(j (2 pi f_d(u) cos(alpha_m) t + phi_m)),
    alpha_m = (2 pi m + theta) / M,

with ``theta`` and every ``phi_m`` uniform on [-pi, pi), drawn per link. Each ``alpha_m`` is
uniform on its own arc and the arcs tile the circle, so over links
``E[h_s(t + tau) h_s(t)*] = (1/2pi) int exp(j 2 pi f_d tau cos a) da = J0(2 pi f_d tau)``
exactly, at every lag and for any ``M``; every link's mean power over time is exactly 1. A
finite ``M`` is not Gaussian: the power ``|h_s|^2`` is the sum of ``M`` unit phasors', whose
CDF is within about 0.11/M of the exponential (0.012 at the default M = 9, with about 5%
fewer deep fades), and its autocovariance is ``J0^2 - 1/M`` rather than ``J0^2``.

Cost: ``M`` complex64 rotations per link and step (no random draws after construction),
within the first-order Gauss-Markov recursion's cost (benchmarks/fading_ticks.py).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy.special import j0

from twin.radio.pathloss import SPEED_OF_LIGHT_MPS, check_model

FadingModel = Literal["none", "rayleigh", "rician"]
FADING_MODELS: tuple[str, ...] = ("none", "rayleigh", "rician")

DEFAULT_SINUSOIDS = 9  # odd: no two arrival angles are opposite, so all M Dopplers differ
# complex64 rotors are unit-modulus only to ~4e-8: every this many steps the phasors are
# put back on the unit circle, so their power never drifts by more than ~1e-5.
RENORMALIZE_STEPS = 256


def doppler_hz(speed_mps: np.ndarray | float, carrier_ghz: float) -> np.ndarray:
    """Maximum Doppler shift ``f_d = v f_c / c``, in Hz."""
    return np.asarray(speed_mps, dtype=float) * (carrier_ghz * 1e9 / SPEED_OF_LIGHT_MPS)


def jakes_correlation(doppler_hz: np.ndarray | float, lag_s: float) -> np.ndarray:
    """Jakes' correlation of a fading coefficient ``lag_s`` apart: ``J0(2 pi f_d lag)``."""
    return j0(2.0 * np.pi * np.asarray(doppler_hz, dtype=float) * lag_s)


def gauss_markov_rho(doppler_hz: np.ndarray | float, dt_s: float) -> np.ndarray:
    """``J0(2 pi f_d dt)``: :func:`jakes_correlation` under the name of the first-order
    recursion it once parametrized (kept for callers)."""
    return jakes_correlation(doppler_hz, dt_s)


class FadingProcess:
    """Small-scale fading of every link: a sum of ``sinusoids`` Doppler-shifted phasors.

    - ``none``: power gain 1, no randomness drawn.
    - ``rayleigh``: ``h = h_s`` (module docstring), mean power 1.
    - ``rician``: ``h = sqrt(K/(K+1)) e^{j theta} + sqrt(1/(K+1)) h_s`` with a fixed LOS phase
      ``theta`` per link.

    ``doppler_hz`` is each user's maximum Doppler (a scalar, or one per user). The
    construction draws everything (angle offsets, phases, LOS phases); :meth:`step` only
    rotates, so the same generator gives the same fading bit for bit.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_users: int,
        n_bs: int,
        model: FadingModel = "rayleigh",
        k_factor_db: float = 9.0,
        doppler_hz: np.ndarray | float = 0.0,
        sinusoids: int = DEFAULT_SINUSOIDS,
    ):
        check_model(model, FADING_MODELS, "fading")
        if sinusoids < 1:
            raise ValueError(f"sinusoids must be at least 1, got {sinusoids}")
        self.rng = rng
        self.model = model
        self.shape = (n_users, n_bs)
        self.k_factor_db = k_factor_db
        self.sinusoids = sinusoids
        doppler = np.broadcast_to(np.asarray(doppler_hz, dtype=float), (n_users,))
        if np.any(doppler < 0) or not np.all(np.isfinite(doppler)):
            raise ValueError("doppler_hz must be finite and non-negative")
        self.doppler_hz = doppler.copy()
        self._los: np.ndarray | None = None
        if model == "none":
            return
        k = 10.0 ** (k_factor_db / 10.0) if model == "rician" else 0.0
        self._scale = math.sqrt(1.0 / ((k + 1.0) * sinusoids))  # of the phasor sum
        # Drawn in this order: the angle offsets theta, then the phases, sinusoid by
        # sinusoid (the phasors exp(j phi_m) start the rotation), then the LOS phases.
        self._theta = rng.uniform(-np.pi, np.pi, self.shape).astype(np.float32)
        self._phasors = np.empty((sinusoids, *self.shape), dtype=np.complex64)
        for m in range(sinusoids):
            _unit_phasors(rng.uniform(-np.pi, np.pi, self.shape), self._phasors[m])
        if model == "rician":
            theta = rng.uniform(0.0, 2.0 * np.pi, self.shape)
            self._los = math.sqrt(k / (k + 1.0)) * np.exp(1j * theta)
        self._rotor: tuple[float, np.ndarray] | None = None
        self._steps = 0
        self._sum: np.ndarray | None = None

    # ----------------------------------------------------------------------- time

    def step(self, dt_s: float) -> None:
        """Advance every link by ``dt_s`` seconds (each phasor turns by its Doppler)."""
        if self.model == "none":
            return
        if dt_s < 0:
            raise ValueError(f"dt_s must be non-negative, got {dt_s}")
        np.multiply(self._phasors, self._rotor_for(dt_s), out=self._phasors)
        self._steps += 1
        if self._steps % RENORMALIZE_STEPS == 0:
            for m in range(self.sinusoids):
                self._phasors[m] /= np.abs(self._phasors[m])
        self._sum = None

    def _rotor_for(self, dt_s: float) -> np.ndarray:
        """``exp(j 2 pi f_d cos(alpha_m) dt)`` per sinusoid and link, kept for the next step."""
        if self._rotor is not None and self._rotor[0] == dt_s:
            return self._rotor[1]
        rotor = np.empty((self.sinusoids, *self.shape), dtype=np.complex64)
        turn = (2.0 * np.pi * dt_s) * self.doppler_hz[:, None]  # rad per unit cos(alpha)
        for m in range(self.sinusoids):
            # cos(alpha_m) in float32 (numpy's SIMD path; alpha is within [-pi, 2 pi)).
            alpha = (self._theta + np.float32(2.0 * np.pi * m)) / np.float32(self.sinusoids)
            _unit_phasors(turn * np.cos(alpha), rotor[m])
        self._rotor = (dt_s, rotor)
        return rotor

    # ----------------------------------------------------------------------- values

    def _phasor_sum(self) -> np.ndarray:
        """``sum_m`` of the phasors ``(U, B)`` complex64, once per step."""
        if self._sum is None:
            self._sum = np.sum(self._phasors, axis=0)
        return self._sum

    @property
    def h(self) -> np.ndarray:
        """The complex coefficients ``(U, B)`` (a new complex128 array; ones for ``none``)."""
        if self.model == "none":
            return np.ones(self.shape, dtype=np.complex128)
        h = self._phasor_sum().astype(np.complex128)
        h *= self._scale
        if self._los is not None:
            h += self._los
        return h

    def power(self) -> np.ndarray:
        """Power gains ``|h|^2`` ``(U, B)``, mean 1 (a new float64 array)."""
        if self.model == "none":
            return np.ones(self.shape)
        if self._los is not None:
            h = self.h
            out = np.multiply(h.real, h.real)
            out += h.imag * h.imag
            return out
        # |sum|^2 in float32 on the interleaved (re, im) view (contiguous, numpy's fast
        # path), then float64: relative error ~1e-7, far below anything physical.
        parts = self._phasor_sum().view(np.float32)
        squares = np.multiply(parts, parts)
        out = np.add(squares[:, 0::2], squares[:, 1::2]).astype(np.float64)
        out *= self._scale * self._scale
        return out


def _unit_phasors(angle_rad: np.ndarray, out: np.ndarray) -> None:
    """``exp(j angle)`` into the complex64 array ``out``: the angle is reduced to [0, 2 pi)
    in float64, then its cosine and sine are taken in float32 (numpy's fast SIMD path)."""
    turns = np.floor(angle_rad * (0.5 / np.pi))  # (np.remainder is 3x slower)
    reduced = (angle_rad - (2.0 * np.pi) * turns).astype(np.float32)
    np.cos(reduced, out=out.real)
    np.sin(reduced, out=out.imag)
