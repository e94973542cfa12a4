"""KPI time series of a twin run, and the summary printed and written by ``aign simulate``."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.radio import RadioMetrics

PERCENTILES = (5, 50, 95)


def percentile_kpis(
    metrics: RadioMetrics, bandwidth_hz: float, prefix: str = ""
) -> dict[str, float]:
    """SINR (dB) and rate percentiles over users.

    Rate is monotone in SINR, so the rate percentiles are the rates of the SINR percentiles:
    one partial sort serves both.
    """
    if metrics.sinr.size == 0:
        return {f"{prefix}{k}_p{q}": math.nan for q in PERCENTILES for k in ("sinr_db", "rate_bps")}
    values = np.percentile(metrics.sinr, PERCENTILES)
    out = {}
    for q, s in zip(PERCENTILES, values, strict=True):
        out[f"{prefix}sinr_db_p{q}"] = float(10 * np.log10(s)) if s > 0 else -math.inf
        out[f"{prefix}rate_bps_p{q}"] = float(bandwidth_hz * np.log2(1.0 + s))
    return out


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
