"""What the planner is asked for: goals that classifier-free guidance can drop or combine.

The problem itself (the instance) is never dropped: it is the graph and the radio state the
denoiser reads. The goals are three groups, each ``[given, value]``:

- ``return``: the design's utility as a share of the best design known for its instance in
  the training data (1 = the best); at planning time the target return, default 1;
- ``min_rate``: a per-user minimum rate, as ``ln(1 + R_min) / 15`` (the scale of the
  log-rate radio feature);
- ``budget``: a total power budget, as a share of everyone at the top level.

In training each group is dropped (``given = 0``, value 0) with probability
:data:`GOAL_DROPOUT`, so one network learns the conditional and the unconditional model
(Ho & Salimans 2022); constraints seen alone in training can be asked for together.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from twin.radio import ProblemInstance

GOAL_GROUPS = ("return", "min_rate", "budget")
GOAL_DIM = 2 * len(GOAL_GROUPS)
GOAL_DROPOUT = 0.25
RATE_SCALE = 15.0


def min_rate_value(min_rate_bps: float) -> float:
    return math.log1p(min_rate_bps) / RATE_SCALE


def budget_value(budget_mw: float, n_users: int, p_max_mw: float) -> float:
    return budget_mw / max(n_users * p_max_mw, 1e-12)


def goal_vector(
    instance: ProblemInstance, target_return: float | None = 1.0, constraints: bool = True
) -> np.ndarray:
    """The goals of a planning request: the target return and the instance's constraints."""
    goal = np.zeros(GOAL_DIM, dtype=np.float32)
    if target_return is not None:
        goal[0:2] = (1.0, target_return)
    c = instance.constraints
    if constraints and c.min_rate_bps is not None:
        goal[2:4] = (1.0, min_rate_value(c.min_rate_bps))
    if constraints and c.max_total_power_mw is not None:
        goal[4:6] = (1.0, budget_value(c.max_total_power_mw, instance.n_users,
                                       instance.max_power_mw))  # fmt: skip
    return goal


def only_group(goal: np.ndarray, group: str) -> np.ndarray:
    """``goal`` with every group but ``group`` dropped (for composed guidance)."""
    out = np.zeros_like(goal)
    k = GOAL_GROUPS.index(group)
    out[2 * k : 2 * k + 2] = goal[2 * k : 2 * k + 2]
    return out


def given_groups(goal: np.ndarray) -> list[str]:
    return [g for k, g in enumerate(GOAL_GROUPS) if goal[2 * k] > 0]


def drop_goals(goals: torch.Tensor, generator: torch.Generator, p: float = GOAL_DROPOUT):
    """Training-time dropout: each group of each row dropped with probability ``p``."""
    keep = (torch.rand(goals.shape[0], len(GOAL_GROUPS), generator=generator) >= p).float()
    return goals * keep.repeat_interleave(2, dim=1)
