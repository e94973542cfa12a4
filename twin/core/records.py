"""Records that leave the process: canonical JSON for digests, strict JSON, 95% intervals.

Reports, logs, sweep tables and the CLI all write JSON that other tools read and that
digests and signatures cover, so the rules live in one place: keys sorted, no NaN or
infinity (they become ``null``), intervals two-sided at :data:`CONFIDENCE`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

CONFIDENCE = 0.95  # every interval in a report is a two-sided 95% interval


def canonical_json(data: Any) -> bytes:
    """The bytes that digests and signatures cover: sorted keys, no spaces, no NaN."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def design_digest(scenario_hash: str, power_mw: Sequence[float] | np.ndarray) -> str:
    """Identity of a design: the scenario it is for and its power vector (mW)."""
    powers = [float(p) for p in np.asarray(power_mw, dtype=float)]
    blob = canonical_json({"scenario": scenario_hash, "power_mw": powers})
    return hashlib.sha256(blob).hexdigest()[:16]


def finite(data: Any) -> Any:
    """NaN and infinities become None, recursively, so the data is strict JSON."""
    if isinstance(data, float | np.floating):
        return float(data) if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def mean_ci(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation and Student-t 95% interval of the finite ``values``."""
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    n = x.size
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": [None, None]}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": [None, None]}
    from scipy import stats  # a second of imports that most callers never need

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * std / math.sqrt(n)
    return {"n": int(n), "mean": mean, "std": std, "ci95": [mean - half, mean + half]}
