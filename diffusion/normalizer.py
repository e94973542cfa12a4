"""Powers in mW <-> the diffusion model's space ``[-1, 1]``, per instance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PowerNormalizer:
    """``x = 2 p / p_max - 1``: 0 mW is ``-1``, the instance's top level ``+1``.

    Per instance, so a model plans for any level grid in relative terms; the planner snaps
    the result to the instance's own levels.
    """

    p_max_mw: float

    def __post_init__(self) -> None:
        if not self.p_max_mw > 0:
            raise ValueError(f"p_max_mw must be > 0, got {self.p_max_mw}")

    def normalize(self, power_mw: np.ndarray | torch.Tensor):
        return 2.0 * power_mw / self.p_max_mw - 1.0

    def unnormalize(self, x: np.ndarray | torch.Tensor):
        """Back to mW, clipped to ``[0, p_max]``."""
        p = (x + 1.0) / 2.0 * self.p_max_mw
        if isinstance(p, torch.Tensor):
            return p.clamp(0.0, self.p_max_mw)
        return np.clip(p, 0.0, self.p_max_mw)
