"""The DDIM sampling loop with classifier-free guidance: denoiser + scheduler -> trajectories.

The loop knows neither the network's insides nor the schedule's formulas; it asks the
denoiser for noise and the scheduler for steps. All K candidates of all conditions are
denoised in one batch (conditional and unconditional passes stacked too).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from diffusion.conditioning import GOAL_GROUPS, Condition
from diffusion.normalizer import apply_mask
from diffusion.scheduler import DDIMScheduler


def guided_noise(
    denoiser: nn.Module,
    x: torch.Tensor,
    t: int,
    cond: Condition,
    guidance_weight: float,
    compose: bool = False,
) -> torch.Tensor:
    """Noise prediction with classifier-free guidance (Ho & Salimans 2022, eq. 6)::

        eps = eps(x, problem) + w * (eps(x, problem + goals) - eps(x, problem))

    (``w = 1``: the conditional model alone; ``w = 0``: no goals; the paper's ``w`` is
    ``w - 1`` here). The problem features are always given; only goals are dropped.

    ``compose=True`` guides on each given goal group separately and sums the directions,
    so that conditions seen alone in training combine at test time (Decision Diffuser,
    Ajay et al. 2023, eq. 9): ``eps = eps_0 + w * sum_g (eps(x, problem + goal_g) - eps_0)``.
    """
    b = x.shape[0]
    steps = torch.full((b,), t, dtype=torch.long)
    if guidance_weight == 1.0 and not compose:
        return denoiser(x, steps, cond)
    none = cond.with_goals_kept(torch.zeros(len(GOAL_GROUPS)))
    if guidance_weight == 0.0:  # the goals' term vanishes: one pass suffices
        return denoiser(x, steps, none)
    if not compose:
        parts = [none, cond]
    else:
        parts = [none]
        for g in range(len(GOAL_GROUPS)):
            only = torch.zeros_like(cond.goal_keep)
            only[:, g] = cond.goal_keep[:, g]
            parts.append(cond.with_goals_kept(only))
    eps = denoiser(x.repeat(len(parts), 1, 1), steps.repeat(len(parts)), Condition.cat(parts))
    eps = eps.reshape(len(parts), b, *x.shape[1:])
    eps_none = eps[0]
    if not compose:
        return eps_none + guidance_weight * (eps[1] - eps_none)
    # groups not given in ``cond`` give eps(problem) again: their difference is zero
    return eps_none + guidance_weight * (eps[1:] - eps_none).sum(dim=0)


@torch.no_grad()
def sample_trajectories(
    denoiser: nn.Module,
    scheduler: DDIMScheduler,
    cond: Condition,
    start: torch.Tensor,
    horizon: int,
    num_steps: int = 10,
    guidance_weight: float = 1.5,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    compose: bool = False,
    return_intermediates: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Sequence[torch.Tensor]]:
    """Normalized trajectories ``(B, horizon + 1, N)`` for a batch of conditions.

    ``start`` ``(B, N)``: the known first state, imposed at every step by inpainting (as
    Diffuser conditions on the current state). Padded users are held at 0 mW throughout.
    """
    b, n = start.shape
    mask = cond.user_mask
    x = torch.randn((b, horizon + 1, n), generator=generator)
    intermediates = []
    timesteps = scheduler.timesteps(num_steps)
    for i, t in enumerate(timesteps):
        x = _impose(x, start, mask)
        eps = guided_noise(denoiser, x, t, cond, guidance_weight, compose)
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        x, x0 = scheduler.step(eps, t, t_prev, x, eta=eta, generator=generator)
        if return_intermediates:
            intermediates.append(x0)
    x = _impose(x, start, mask)
    return (x, intermediates) if return_intermediates else x


def _impose(x: torch.Tensor, start: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The known first state written in, padded users set to 0 mW."""
    x = x.clone()
    x[:, 0] = start
    return apply_mask(x, mask)
