"""Powers in mW <-> the diffusion model's space ``[-1, 1]``; padded users are masked."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PowerNormalizer:
    """``x = 2 p / p_max - 1``: 0 mW is ``-1``, the top level ``+1``.

    ``p_max_mw`` is the top level of the training data; an instance with other levels is
    still planned for in relative terms (``p / p_max`` of its own top level) and snapped to
    its own levels.
    """

    p_max_mw: float

    def __post_init__(self) -> None:
        if not self.p_max_mw > 0:
            raise ValueError(f"p_max_mw must be > 0, got {self.p_max_mw}")

    def normalize(self, power_mw: np.ndarray | torch.Tensor, p_max_mw: float | None = None):
        return 2.0 * power_mw / (p_max_mw or self.p_max_mw) - 1.0

    def unnormalize(self, x: np.ndarray | torch.Tensor, p_max_mw: float | None = None):
        """Back to mW, clipped to ``[0, p_max]`` (samples may overshoot slightly)."""
        p = (x + 1.0) / 2.0 * (p_max_mw or self.p_max_mw)
        top = p_max_mw or self.p_max_mw
        return p.clamp(0.0, top) if isinstance(p, torch.Tensor) else np.clip(p, 0.0, top)

    def to_dict(self) -> dict:
        return asdict(self)


PADDED_VALUE = -1.0  # normalized value of a padded user (0 mW)


def apply_mask(x: torch.Tensor, user_mask: torch.Tensor) -> torch.Tensor:
    """Padded users (``user_mask == 0``) of ``x`` ``(B, T, N)`` set to 0 mW."""
    m = user_mask[:, None, :]
    return x * m + PADDED_VALUE * (1.0 - m)
