"""Uplink radio maths: SINR, rate, utility and constraints.

The one place that computes the paper's utility. Everything is vectorized over users and
base stations, and the power argument may carry leading batch dimensions ``(..., U)`` so that
solvers score many candidate power vectors in one call.

Conventions (see ``ARCHITECTURE.md``, "The physics"):
- ``gains[i, j]``: linear power gain from user ``i`` to BS ``j`` (shape ``(U, B)``).
- ``assoc[i]``: serving BS of user ``i``.
- ``power_mw``: transmit powers in mW; ``noise_mw``: receiver noise power in mW.
- ``reuse="shared"``: every other user interferes; ``"orthogonal_in_cell"``: only users
  served by another BS interfere (OFDMA-like within a cell).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Reuse = Literal["shared", "orthogonal_in_cell"]
REUSE_MODES: tuple[str, ...] = ("shared", "orthogonal_in_cell")


def serving_gain(gains: np.ndarray, assoc: np.ndarray) -> np.ndarray:
    """Gain of each user towards its serving BS, ``g[i, b(i)]`` (shape ``(U,)``)."""
    return gains[np.arange(gains.shape[0]), assoc]


def _serving_onehot(assoc: np.ndarray, n_bs: int) -> np.ndarray:
    """``A[i, j] = 1`` if BS ``j`` serves user ``i``: sums per cell become one matrix product."""
    onehot = np.zeros((assoc.shape[0], n_bs))
    onehot[np.arange(assoc.shape[0]), assoc] = 1.0
    return onehot


def interference_mw(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    reuse: Reuse = "shared",
) -> np.ndarray:
    """Interference power at each user's serving BS, ``sum_{k interfering} g[k, b(i)] p_k``."""
    power_mw = np.asarray(power_mw, dtype=float)
    own = power_mw * serving_gain(gains, assoc)
    return _interference_mw(gains, assoc, power_mw, own, reuse)


def _interference_mw(
    gains: np.ndarray, assoc: np.ndarray, power_mw: np.ndarray, own: np.ndarray, reuse: Reuse
) -> np.ndarray:
    """:func:`interference_mw` given each user's own received power ``p_i g[i, b(i)]``."""
    received = power_mw @ gains  # (..., B): total power received at each BS
    at_serving = received[..., assoc]  # (..., U)
    if reuse == "shared":
        interference = np.subtract(at_serving, own, out=at_serving)
    elif reuse == "orthogonal_in_cell":
        # Remove every user served by the same BS (the user itself included).
        in_cell = own @ _serving_onehot(assoc, gains.shape[1])  # (..., B)
        interference = np.subtract(at_serving, in_cell[..., assoc], out=at_serving)
    else:
        raise ValueError(f"reuse must be one of {REUSE_MODES}, got {reuse!r}")
    # Cancellation can leave tiny negative residues; interference is a power.
    return np.maximum(interference, 0.0, out=interference)


def sinr(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    reuse: Reuse = "shared",
) -> np.ndarray:
    """``SINR_i = g[i,b(i)] p_i / (noise + interference_i)`` (linear)."""
    power_mw = np.asarray(power_mw, dtype=float)
    signal = power_mw * serving_gain(gains, assoc)
    denominator = _interference_mw(gains, assoc, power_mw, signal, reuse)
    denominator += noise_mw
    return np.divide(signal, denominator, out=denominator)


def probe_sinr(
    probe_gains: np.ndarray,
    probe_mw: float,
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    reuse: Reuse = "shared",
) -> np.ndarray:
    """SINR of one extra user, the *probe*, placed in turn at each of ``N`` candidate spots.

    ``probe_gains[n, j]`` is the probe's gain towards BS ``j`` at spot ``n`` (shape
    ``(N, B)``); it transmits ``probe_mw`` and is served by its strongest BS. The users of
    ``gains``/``assoc`` keep ``power_mw``. Entry ``n`` equals the probe's entry of
    :func:`sinr` over the users plus the probe at spot ``n``, but every spot shares one
    ``O(U B)`` product, so a map of ``N`` spots costs ``O((U + N) B)``, not ``O(N U B)``:
    the probe's interference is what the other users put into its BS, which the probe
    does not change.
    """
    power_mw = np.asarray(power_mw, dtype=float)
    if reuse == "shared":
        interference = power_mw @ gains  # (B,): every user interferes with the probe
    elif reuse == "orthogonal_in_cell":
        interference = bs_interference_mw(gains, assoc, power_mw)  # (B,): other cells only
    else:
        raise ValueError(f"reuse must be one of {REUSE_MODES}, got {reuse!r}")
    serving = np.argmax(probe_gains, axis=1)
    signal = probe_mw * probe_gains[np.arange(probe_gains.shape[0]), serving]
    return signal / (noise_mw + interference[serving])


def rate_bps(sinr_linear: np.ndarray, bandwidth_hz: float) -> np.ndarray:
    """Shannon rate ``R_i = bandwidth * log2(1 + SINR_i)`` in bit/s."""
    return bandwidth_hz * np.log2(1.0 + sinr_linear)


def utility_from_rates(rates_bps: np.ndarray, power_mw: np.ndarray, price: float) -> np.ndarray:
    """The paper's utility ``sum_i ln(1 + R_i) - price * sum_i p_i`` (summed over the last axis)."""
    return np.log1p(rates_bps).sum(axis=-1) - price * np.asarray(power_mw).sum(axis=-1)


def bs_interference_mw(gains: np.ndarray, assoc: np.ndarray, power_mw: np.ndarray) -> np.ndarray:
    """Inter-cell interference received at each BS: power from users it does not serve.

    This is the quantity a per-BS interference cap (interference temperature) bounds.
    """
    power_mw = np.asarray(power_mw, dtype=float)
    received = power_mw @ gains  # (..., B)
    own = power_mw * serving_gain(gains, assoc)
    served = own @ _serving_onehot(assoc, gains.shape[1])
    return np.maximum(received - served, 0.0)


@dataclass(frozen=True)
class Constraints:
    """Optional hard constraints; ``None`` means "not imposed".

    - ``min_rate_bps``: every user's rate must reach it.
    - ``max_total_power_mw``: the sum of transmit powers must not exceed it.
    - ``max_interference_mw``: inter-cell interference received at every BS must not exceed it.
    """

    min_rate_bps: float | None = None
    max_total_power_mw: float | None = None
    max_interference_mw: float | None = None

    def active(self) -> tuple[str, ...]:
        """Names of the constraints that are imposed."""
        return tuple(name for name, value in self.to_dict().items() if value is not None)

    def to_dict(self) -> dict[str, float | None]:
        return {
            "min_rate_bps": self.min_rate_bps,
            "max_total_power_mw": self.max_total_power_mw,
            "max_interference_mw": self.max_interference_mw,
        }


# Relative tolerance when checking constraints, so that a design sitting exactly on a limit
# (e.g. total power == budget) is not declared infeasible by round-off.
CONSTRAINT_RTOL = 1e-9


def constraint_violations(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    rates: np.ndarray,
    constraints: Constraints,
) -> dict[str, np.ndarray]:
    """Normalized violation of each imposed constraint (0 when it holds), shape ``(...)``.

    Violations are relative to the limit (e.g. 0.1 = 10% over budget) so they can be summed
    across constraints of different units.
    """
    out: dict[str, np.ndarray] = {}
    if constraints.min_rate_bps is not None:
        limit = constraints.min_rate_bps
        shortfall = np.maximum(limit - rates, 0.0) / max(limit, 1e-300)
        out["min_rate_bps"] = np.where(shortfall > CONSTRAINT_RTOL, shortfall, 0.0).sum(axis=-1)
    if constraints.max_total_power_mw is not None:
        limit = constraints.max_total_power_mw
        excess = (np.sum(power_mw, axis=-1) - limit) / max(limit, 1e-300)
        out["max_total_power_mw"] = np.where(excess > CONSTRAINT_RTOL, excess, 0.0)
    if constraints.max_interference_mw is not None:
        limit = constraints.max_interference_mw
        excess = np.maximum(bs_interference_mw(gains, assoc, power_mw) - limit, 0.0)
        excess = excess / max(limit, 1e-300)
        out["max_interference_mw"] = np.where(excess > CONSTRAINT_RTOL, excess, 0.0).sum(axis=-1)
    return out


@dataclass(frozen=True)
class RadioMetrics:
    """Everything the twin, the solvers and the UI report about one power vector."""

    utility: float
    sinr: np.ndarray
    rate_bps: np.ndarray
    total_power_mw: float
    violations: dict[str, float]

    @property
    def feasible(self) -> bool:
        return all(v == 0.0 for v in self.violations.values())

    @property
    def sum_rate_bps(self) -> float:
        return float(self.rate_bps.sum())

    def to_dict(self) -> dict:
        """JSON-ready form (per-user arrays as lists, SINR also in dB)."""
        with np.errstate(divide="ignore"):
            sinr_db = 10.0 * np.log10(self.sinr)
        return {
            "utility": self.utility,
            "sum_rate_bps": self.sum_rate_bps,
            "total_power_mw": self.total_power_mw,
            "feasible": self.feasible,
            "constraints": {
                name: {"satisfied": v == 0.0, "violation": v} for name, v in self.violations.items()
            },
            "sinr": self.sinr.tolist(),
            "sinr_db": [None if not np.isfinite(x) else float(x) for x in sinr_db],
            "rate_bps": self.rate_bps.tolist(),
        }


def _rates_and_violations(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    bandwidth_hz: float,
    constraints: Constraints,
    reuse: Reuse,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """SINR, rate and per-constraint violation: what every evaluation below starts from."""
    s = sinr(gains, assoc, power_mw, noise_mw, reuse)
    r = rate_bps(s, bandwidth_hz)
    return s, r, constraint_violations(gains, assoc, power_mw, r, constraints)


def evaluate_power(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    bandwidth_hz: float,
    price: float,
    constraints: Constraints = Constraints(),
    reuse: Reuse = "shared",
) -> RadioMetrics:
    """Full metrics for a single power vector."""
    power_mw = np.asarray(power_mw, dtype=float)
    s, r, violations = _rates_and_violations(
        gains, assoc, power_mw, noise_mw, bandwidth_hz, constraints, reuse
    )
    return RadioMetrics(
        utility=float(utility_from_rates(r, power_mw, price)),
        sinr=s,
        rate_bps=r,
        total_power_mw=float(power_mw.sum()),
        violations={k: float(v) for k, v in violations.items()},
    )


def objective(
    gains: np.ndarray,
    assoc: np.ndarray,
    power_mw: np.ndarray,
    noise_mw: float,
    bandwidth_hz: float,
    price: float,
    constraints: Constraints = Constraints(),
    reuse: Reuse = "shared",
) -> tuple[np.ndarray, np.ndarray]:
    """Batched ``(utility, total normalized violation)`` for power vectors ``(..., U)``.

    Solvers rank candidates lexicographically: least violation first, then highest utility.
    """
    power_mw = np.asarray(power_mw, dtype=float)
    _, r, violations = _rates_and_violations(
        gains, assoc, power_mw, noise_mw, bandwidth_hz, constraints, reuse
    )
    u = utility_from_rates(r, power_mw, price)
    total = sum(violations.values()) if violations else np.zeros_like(u)
    return u, np.asarray(total, dtype=float)
