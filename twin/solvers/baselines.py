"""The simple baselines: 3GPP fractional power control, max, fixed and random levels.
"""

from __future__ import annotations

import numpy as np

from twin.core.errors import AignError
from twin.radio.instance import LEVEL_ATOL_MW, ProblemInstance
from twin.radio.uplink import serving_gain


def fractional_power_control(
    instance: ProblemInstance, p0_dbm: float = -90.0, alpha: float = 0.8
) -> np.ndarray:
    """3GPP open-loop fractional power control (TS 38.213 PUSCH, one resource block).

    ``P_i = min(P_max, P0 + alpha * PL_i)`` dBm with ``PL_i = -10 log10 g[i, b(i)]`` dB:
    ``alpha = 1`` fully compensates path loss, ``alpha < 1`` lets cell-edge users receive
    less, trading their rate for less interference. Snapped to the nearest levels.
    """
    path_loss_db = -10.0 * np.log10(serving_gain(instance.gains, instance.assoc))
    power_mw = 10.0 ** ((p0_dbm + alpha * path_loss_db) / 10.0)
    return instance.snap_to_levels(np.minimum(power_mw, instance.max_power_mw))


def max_power(instance: ProblemInstance) -> np.ndarray:
    """Everyone at the highest level: the interference-blind baseline."""
    return np.full(instance.n_users, instance.max_power_mw)


def level_index(instance: ProblemInstance, level_mw: float) -> int:
    """Index of ``level_mw`` among the instance's levels; refuse a power that is not one."""
    k = int(np.argmin(np.abs(instance.levels_mw - level_mw)))
    if abs(instance.levels_mw[k] - level_mw) > LEVEL_ATOL_MW:
        levels = ", ".join(f"{x:g}" for x in instance.levels_mw[:8])
        more = ", ..." if len(instance.levels_mw) > 8 else ""
        raise AignError(
            f"fixed power {level_mw:g} mW is not an allowed level; levels are {levels}{more} "
            f"(up to {instance.max_power_mw:g} mW)"
        )
    return k


def fixed_power(instance: ProblemInstance, level_mw: float) -> np.ndarray:
    """Everyone at one given level (which must be an allowed level)."""
    return np.full(instance.n_users, instance.levels_mw[level_index(instance, level_mw)])


def random_power(instance: ProblemInstance, seed: int = 0) -> np.ndarray:
    """Independent uniformly random levels, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return instance.levels_mw[rng.integers(0, len(instance.levels_mw), instance.n_users)]
