"""KPI time series of a twin run, and the summary printed and written by ``aign simulate``."""

from __future__ import annotations

import csv
import functools
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.radio.uplink import RadioMetrics

PERCENTILES = (5, 50, 95)


@functools.lru_cache(maxsize=64)
def _percentile_plan(n: int) -> tuple[np.ndarray, tuple[tuple[int, int, float], ...]]:
    """How ``np.percentile(x, PERCENTILES)`` (method "linear") reads a sample of ``n`` values.

    Returns the ranks to partition on and, per percentile, ``(lower rank, upper rank,
    weight)``, computed with numpy's own index arithmetic (numpy/lib/_function_base_impl.py,
    ``_quantile`` and ``_get_indexes``) so that the interpolation gives the same bits.
    """
    q = np.true_divide(PERCENTILES, 100)
    virtual = (n - 1) * q
    lower = np.floor(virtual)
    upper = lower + 1
    # At or beyond the last rank numpy reads the last value (index -1) on both sides; the
    # weight stays virtual - lower with lower = -1, as in numpy.
    above = virtual >= n - 1
    lower[above] = -1
    upper[above] = -1
    weight = virtual - lower
    lower_i = [int(i) % n for i in lower]
    upper_i = [int(i) % n for i in upper]
    kth = np.unique(np.array(lower_i + upper_i + [n - 1], dtype=np.intp))
    plan = tuple(zip(lower_i, upper_i, weight.tolist(), strict=True))
    return kth, plan


def sinr_percentiles(sinr: np.ndarray) -> list[float]:
    """``np.percentile(sinr, PERCENTILES)``, bit for bit, from one partial sort.

    numpy's linear interpolation between the two neighbouring order statistics
    (``_lerp``: ``a + (b - a) t``, or ``b - (b - a)(1 - t)`` when ``t >= 0.5``); NaN for
    every percentile if the sample holds a NaN. ``sinr``: a non-empty float64 array.
    """
    kth, plan = _percentile_plan(sinr.size)
    ranked = np.partition(sinr, kth)
    if math.isnan(ranked[-1]):  # NaNs sort last
        return [math.nan] * len(plan)
    out = []
    for lo, hi, t in plan:
        a, b = float(ranked[lo]), float(ranked[hi])
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


def percentile_kpis(
    metrics: RadioMetrics, bandwidth_hz: float, prefix: str = ""
) -> dict[str, float]:
    """SINR (dB) and rate percentiles over users.

    Rate is monotone in SINR, so the rate percentiles are the rates of the SINR percentiles:
    one partial sort serves both.
    """
    names = _percentile_names(prefix)
    if metrics.sinr.size == 0:
        return {name: math.nan for pair in names for name in pair}
    out = {}
    for (sinr_name, rate_name), value in zip(names, sinr_percentiles(metrics.sinr), strict=True):
        s = np.float64(value)
        out[sinr_name] = float(10 * np.log10(s)) if s > 0 else -math.inf
        out[rate_name] = float(bandwidth_hz * np.log2(1.0 + s))
    return out


@functools.lru_cache(maxsize=16)
def _percentile_names(prefix: str) -> tuple[tuple[str, str], ...]:
    """Column names ``(sinr_db_pQ, rate_bps_pQ)`` per percentile, in column order."""
    return tuple((f"{prefix}sinr_db_p{q}", f"{prefix}rate_bps_p{q}") for q in PERCENTILES)


@dataclass
class KpiLog:
    """Column-oriented KPI rows (one per twin tick) plus the power trajectory per epoch."""

    columns: dict[str, list[float]] = field(default_factory=dict)
    power_times_s: list[float] = field(default_factory=list)
    power_mw: list[np.ndarray] = field(default_factory=list)

    def append(self, row: dict[str, float]) -> None:
        if not self.columns:
            self.columns = {k: [] for k in row}
        for k, v in row.items():
            self.columns[k].append(v)

    def record_powers(self, time_s: float, power_mw: np.ndarray) -> None:
        self.power_times_s.append(time_s)
        self.power_mw.append(power_mw.copy())

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def column(self, name: str) -> np.ndarray:
        return np.asarray(self.columns[name], dtype=float)

    def write_csv(self, path: str | os.PathLike) -> None:
        names = list(self.columns)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            writer.writerows(zip(*(self.columns[n] for n in names), strict=True))

    def write_powers_csv(self, path: str | os.PathLike) -> None:
        n = len(self.power_mw[0]) if self.power_mw else 0
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["time_s"] + [f"user_{i}" for i in range(n)])
            for t, p in zip(self.power_times_s, self.power_mw, strict=True):
                writer.writerow([t] + p.tolist())

    def summary(self) -> dict[str, Any]:
        """Means over the run (percentiles averaged over ticks), fidelity and staleness."""
        if not self.columns:
            return {"ticks": 0}
        out: dict[str, Any] = {"ticks": len(self)}
        for name in self.columns:
            if name == "time_s":
                continue
            values = self.column(name)
            finite = values[np.isfinite(values)]
            out[f"mean_{name}"] = float(finite.mean()) if finite.size else None
        stale = self.column("staleness_s")
        out["max_staleness_s"] = float(stale.max())
        pred, real = self.column("utility_predicted"), self.column("utility")
        out["utility_abs_error_mean"] = float(np.mean(np.abs(pred - real)))
        return out
