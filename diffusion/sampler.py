"""The DDIM sampling loop on the interference graph: denoiser + scheduler + twin -> designs.

K candidates are denoised together. At every step the network predicts the clean design
``x_0``; classifier-free guidance combines the conditional and unconditional predictions
(stacked in one batch); the scheduler takes the DDIM step; and the radio state of the new
estimate on the twin (:func:`diffusion.graph.radio_features`) is what the network reads at
the next step (self-conditioning, Chen et al. 2023, with the twin's physics in place of
the raw estimate). The loop knows neither the network's insides nor the schedule's formulas.
"""

from __future__ import annotations

import numpy as np
import torch

from diffusion.conditioning import GOAL_GROUPS, given_groups, only_group
from diffusion.denoisers import GraphDenoiser
from diffusion.graph import DesignGraph, radio_features
from diffusion.scheduler import DDIMScheduler


def guided_x0(
    model: GraphDenoiser,
    encoded: dict,
    x: torch.Tensor,
    t: int,
    frac: torch.Tensor,
    radio: torch.Tensor,
    estimated: torch.Tensor,
    goals: list[np.ndarray],
    weight: float,
) -> torch.Tensor:
    """``x_0`` with classifier-free guidance (Ho & Salimans 2022, eq. 6, on ``x_0``)::

        x0 = x0(x, problem) + w * sum_g (x0(x, problem + goal_g) - x0(x, problem))

    ``goals`` holds one goal vector (the joint condition) or one per group (composition,
    Ajay et al. 2023, eq. 9). ``w = 1`` with one goal vector is the conditional model alone
    (one pass); ``w = 0`` ignores the goals.
    """
    k = x.shape[0]
    if weight == 1.0 and len(goals) == 1:
        g = torch.from_numpy(goals[0])[None].expand(k, -1)
        return model.step(encoded, x, frac, radio, estimated, g)
    conds = [np.zeros_like(goals[0])] + list(goals)
    stacked = torch.from_numpy(np.repeat(np.stack(conds), k, axis=0))
    rep = len(conds)
    out = model.step(
        encoded, x.repeat(rep, 1), frac.repeat(rep), radio.repeat(rep, 1, 1),
        estimated.repeat(rep), stacked,
    ).reshape(rep, k, -1)  # fmt: skip
    return out[0] + weight * (out[1:] - out[0]).sum(0)


@torch.no_grad()
def sample_designs(
    model: GraphDenoiser,
    scheduler: DDIMScheduler,
    graph: DesignGraph,
    goal: np.ndarray,
    candidates: int,
    steps: int,
    guidance_weight: float = 1.0,
    compose: bool = False,
    seed: int = 0,
    off_gap: float = 0.0,
) -> np.ndarray:
    """``candidates`` designs ``(K, U)`` in mW (continuous: the planner snaps to levels);
    ``off_gap``: the model's design space (:class:`diffusion.normalizer.PowerNormalizer`)."""
    norm = graph.normalizer(off_gap)
    encoded = model.encode(graph.static, graph.neighbours, graph.edges, graph.valid,
                           sparse=True)  # fmt: skip
    generator = torch.Generator().manual_seed(int(seed))
    n = graph.n_users
    x = torch.randn((candidates, n), generator=generator)
    radio = torch.zeros((candidates, n, model.config.radio_features))
    estimated = torch.zeros(candidates)
    groups = given_groups(goal)
    goals = [only_group(goal, g) for g in groups] if compose and len(groups) > 1 else [goal]
    taus = scheduler.timesteps(steps)
    x0 = x
    for i, t in enumerate(taus):
        t_prev = taus[i + 1] if i + 1 < len(taus) else -1
        frac = scheduler.time_fraction(t).expand(candidates)
        x0 = guided_x0(model, encoded, x, t, frac, radio, estimated, goals, guidance_weight)
        x0 = x0.clamp(-1.0, 1.0)
        x = scheduler.step_from_x0(x0, t, t_prev, x)
        if t_prev >= 0:  # (after the last step nobody reads it)
            radio = radio_features(graph, norm.unnormalize(x0.numpy().astype(np.float64)))
            estimated = torch.ones(candidates)
    return norm.unnormalize(x0.numpy().astype(np.float64))


__all__ = ["GOAL_GROUPS", "guided_x0", "sample_designs"]
