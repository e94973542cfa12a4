"""The noise schedule and the DDPM/DDIM maths, separate from any network.

Notation follows Ho et al. 2020 (DDPM) and Song et al. 2021 (DDIM): ``x_0`` is a clean
(normalized) design, ``eps ~ N(0, I)``, ``t`` a training timestep in ``0 .. T-1`` and
``alpha_bar_t = prod_{s <= t} (1 - beta_s)``. The network predicts ``x_0`` ("sample
prediction"); everything else here is closed-form.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

# Nichol & Dhariwal 2021, Sec. 3.2: betas are clipped so that the last step is not singular.
MAX_BETA = 0.999


def cosine_alphas_cumprod(num_timesteps: int, s: float = 0.008) -> np.ndarray:
    """``alpha_bar_t`` of the cosine schedule (Nichol & Dhariwal 2021, eq. 17), ``t = 0..T-1``.

    ``f(t) = cos(((t/T + s) / (1 + s)) * pi/2)^2``, ``alpha_bar_t = f(t) / f(0)``, with
    ``beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}`` clipped to ``MAX_BETA``. Index ``t``
    here is the paper's ``t + 1`` (the first noisy step), so ``alpha_bar_0 < 1``.
    """
    if num_timesteps < 1:
        raise ValueError(f"num_timesteps must be >= 1, got {num_timesteps}")
    steps = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
    f = np.cos((steps + s) / (1.0 + s) * math.pi / 2.0) ** 2
    betas = np.minimum(1.0 - f[1:] / f[:-1], MAX_BETA)
    return np.cumprod(1.0 - betas)


@dataclass(frozen=True)
class SchedulerConfig:
    """Serializable settings of :class:`DDIMScheduler`."""

    num_train_timesteps: int = 100  # T: diffusion steps the network is trained on
    cosine_s: float = 0.008  # offset s of the cosine schedule (Nichol & Dhariwal 2021)
    clip_sample: float | None = 1.0  # clip predicted x_0 to [-c, c] (data lie in [-1, 1])

    def to_dict(self) -> dict:
        return asdict(self)


class DDIMScheduler:
    """Forward noising for training and DDIM steps for sampling, on a cosine schedule."""

    def __init__(self, config: SchedulerConfig | None = None):
        self.config = config or SchedulerConfig()
        ab = cosine_alphas_cumprod(self.config.num_train_timesteps, self.config.cosine_s)
        self.alphas_cumprod = torch.tensor(ab, dtype=torch.float64)

    @property
    def num_train_timesteps(self) -> int:
        return self.config.num_train_timesteps

    def _alpha_bar(self, t: torch.Tensor | int) -> torch.Tensor:
        """``alpha_bar_t``, with ``alpha_bar_{-1} = 1`` (the clean data) for ``t < 0``."""
        t = torch.as_tensor(t, dtype=torch.long)
        ab = self.alphas_cumprod[t.clamp(min=0)]
        return torch.where(t < 0, torch.ones_like(ab), ab)

    @staticmethod
    def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``v`` per batch element, broadcastable against ``like`` and in its dtype."""
        return v.reshape(v.shape + (1,) * (like.ndim - v.ndim)).to(like.dtype)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps`` (Ho et al. 2020, eq. 4)."""
        ab = self._expand(self._alpha_bar(t), x0)
        return ab.sqrt() * x0 + (1.0 - ab).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)`` (eq. 4 solved for
        ``x_0``; Song et al. 2021, eq. 9)."""
        ab = self._expand(self._alpha_bar(t), x_t)
        return (x_t - (1.0 - ab).sqrt() * eps) / ab.sqrt()

    def timesteps(self, num_steps: int) -> list[int]:
        """The DDIM sub-sequence ``tau``: ``num_steps`` timesteps from ``T-1`` down to ``0``,
        evenly spaced (Song et al. 2021, Sec. 4.2)."""
        t_max = self.num_train_timesteps - 1
        if not 1 <= num_steps <= self.num_train_timesteps:
            raise ValueError(
                f"sampling steps must be between 1 and {self.num_train_timesteps} "
                f"(the training timesteps), got {num_steps}"
            )
        if num_steps == 1:
            return [t_max]
        return [int(t) for t in np.round(np.linspace(t_max, 0, num_steps)).astype(int)]

    def step_from_x0(
        self, x0: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor
    ) -> torch.Tensor:
        """One deterministic DDIM step (``eta = 0``) from a predicted clean sample.

        For networks that predict ``x_0`` ("sample prediction"): the noise is implied by
        eq. 4, ``eps = (x_t - sqrt(ab_t) x_0) / sqrt(1 - ab_t)``, and eq. 12 moves on.
        """
        ab_t = self._alpha_bar(t).to(x_t.dtype)
        ab_prev = self._alpha_bar(t_prev).to(x_t.dtype)
        eps = (x_t - ab_t.sqrt() * x0) / (1.0 - ab_t).sqrt()
        return ab_prev.sqrt() * x0 + (1.0 - ab_prev).sqrt() * eps

    def time_fraction(self, t: torch.Tensor | int) -> torch.Tensor:
        """``(t + 1) / T`` in ``(0, 1]``: the timestep as the network sees it."""
        return (torch.as_tensor(t, dtype=torch.float32) + 1.0) / self.num_train_timesteps
