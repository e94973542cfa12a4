"""Powers in mW <-> the diffusion model's space ``[-1, 1]``, per instance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PowerNormalizer:
    """``x = -1 + 2 (gap min(p / p_on, 1) + (1 - gap) p / p_max)``: off is ``-1``, the
    instance's top level ``+1``, linear in between but for the first step.

    With ``off_gap`` (``gap``) above 0 the step from off to the lowest level that is on
    (``p_on``) spans an extra ``2 gap``. Switching a user off takes its ``ln(1 + R)`` from
    about 10 nats to 0: the largest change any one-level move makes. Plain linear scaling
    (``gap = 0``, the models before it) puts that step at ``2 p_on / p_max``, 0.01 for 1 of
    200 mW, below what a network trained on the MSE resolves: it predicted 0.1-0.4 mW for
    users whose optimum is 1 mW and the planner switched them off (``benchmarks/RESULTS.md``,
    "Planner on the interference graph").

    Per instance, so a model plans for any level grid in relative terms; the planner snaps
    the result to the instance's own levels.
    """

    p_max_mw: float
    p_on_mw: float | None = None  # the lowest level above 0 mW (None: p_max)
    off_gap: float = 0.0

    def __post_init__(self) -> None:
        if not self.p_max_mw > 0:
            raise ValueError(f"p_max_mw must be > 0, got {self.p_max_mw}")
        if not 0.0 <= self.off_gap < 1.0:
            raise ValueError(f"off_gap must be in [0, 1), got {self.off_gap}")
        if self.p_on_mw is not None and not 0 < self.p_on_mw <= self.p_max_mw:
            raise ValueError(f"p_on_mw must be in (0, p_max], got {self.p_on_mw}")

    @property
    def _p_on(self) -> float:
        return self.p_max_mw if self.p_on_mw is None else self.p_on_mw

    def normalize(self, power_mw: np.ndarray | torch.Tensor):
        gap, p_on = self.off_gap, self._p_on
        linear = power_mw / self.p_max_mw
        if not gap:
            return 2.0 * linear - 1.0
        first = (power_mw / p_on).clip(max=1.0)
        return -1.0 + 2.0 * (gap * first + (1.0 - gap) * linear)

    def unnormalize(self, x: np.ndarray | torch.Tensor):
        """Back to mW, clipped to ``[0, p_max]``."""
        gap, p_on, p_max = self.off_gap, self._p_on, self.p_max_mw
        y = (x + 1.0) / 2.0
        if not gap:
            p = y * p_max
        else:
            knee = gap + (1.0 - gap) * p_on / p_max
            low = y / (gap / p_on + (1.0 - gap) / p_max)
            high = (y - gap) * p_max / (1.0 - gap)
            p = torch.where(y <= knee, low, high) if isinstance(y, torch.Tensor) else \
                np.where(y <= knee, low, high)  # fmt: skip
        if isinstance(p, torch.Tensor):
            return p.clamp(0.0, p_max)
        return np.clip(p, 0.0, p_max)
