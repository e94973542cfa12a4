"""The DDIM sampling loop: shapes, inpainting, masking, seeded determinism, guidance."""

import numpy as np
import pytest
import torch

from diffusion.conditioning import GOAL_GROUPS
from diffusion.sampler import sample_trajectories


def _sample(model, planner, instance, seed=0, **kw):
    cond = planner.condition(instance, 1.0).repeat(4)
    start = -torch.ones((4, planner.max_users))
    g = torch.Generator().manual_seed(seed)
    return sample_trajectories(model.denoiser, model.scheduler, cond, start, planner.horizon,
                               generator=g, **kw)  # fmt: skip


def test_samples_have_one_state_per_step_and_user_and_start_where_told(fig3_planner,
                                                                       fig3_instance):
    x = _sample(fig3_planner.model, fig3_planner, fig3_instance, num_steps=5)
    assert x.shape == (4, 9, 2)
    assert torch.equal(x[:, 0], -torch.ones((4, 2)))
    assert x.abs().max() <= 1.0 + 1e-6


def test_same_seed_same_samples_other_seed_other_samples(fig3_planner, fig3_instance):
    m = fig3_planner.model
    a = _sample(m, fig3_planner, fig3_instance, seed=7)
    b = _sample(m, fig3_planner, fig3_instance, seed=7)
    c = _sample(m, fig3_planner, fig3_instance, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_guidance_weight_changes_the_samples(fig3_planner, fig3_instance):
    m = fig3_planner.model
    plain = _sample(m, fig3_planner, fig3_instance, guidance_weight=0.0)
    guided = _sample(m, fig3_planner, fig3_instance, guidance_weight=3.0)
    assert not torch.allclose(plain, guided)


def test_composition_of_goal_groups_runs_and_equals_plain_guidance_with_one_group(
    fig3_planner, fig3_instance
):
    """With only the return group given, composing groups is ordinary guidance."""
    m = fig3_planner.model
    cond = fig3_planner.condition(fig3_instance, 1.0).repeat(2)
    keep = torch.zeros(len(GOAL_GROUPS))
    keep[0] = 1.0
    cond = cond.with_goals_kept(keep)
    start = -torch.ones((2, 2))
    out = [
        sample_trajectories(m.denoiser, m.scheduler, cond, start, 8, guidance_weight=2.0,
                            generator=torch.Generator().manual_seed(0), compose=compose)
        for compose in (False, True)
    ]  # fmt: skip
    assert torch.allclose(out[0], out[1], atol=1e-5)


def test_padded_users_stay_at_zero_power(fig3_planner, fig3_instance):
    from diffusion.conditioning import Condition

    m = fig3_planner.model
    cond = fig3_planner.condition(fig3_instance, 1.0)
    users = cond.user_features.clone()
    users[:, 1] = 0.0  # pretend user 1 is padding
    cond = Condition(users, cond.global_features, cond.goals, cond.goal_keep).repeat(3)
    x = sample_trajectories(m.denoiser, m.scheduler, cond, -torch.ones((3, 2)), 8,
                            generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert torch.equal(x[..., 1], -torch.ones((3, 9)))


@pytest.mark.parametrize("steps", [5, 10, 20, 50])
def test_every_supported_step_count_gives_levels_after_snapping(fig3_planner, fig3_instance,
                                                                steps):
    result = fig3_planner.plan(fig3_instance, candidates=2, steps=steps)
    assert set(np.unique(result.trajectories_mw)) <= set(fig3_instance.levels_mw)
