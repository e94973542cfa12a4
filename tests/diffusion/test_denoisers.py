"""Both denoisers: shapes, masking of padded users, and the transformer's symmetry."""

import pytest
import torch

from diffusion.conditioning import GLOBAL_FEATURE_NAMES, GOAL_DIM, GOAL_GROUPS, Condition
from diffusion.denoisers import DenoiserConfig, build_denoiser


def _condition(b: int, n: int, real: int, seed: int = 0) -> Condition:
    g = torch.Generator().manual_seed(seed)
    users = torch.randn((b, n, 4), generator=g)
    users[..., 3] = 0.0
    users[:, :real, 3] = 1.0
    users[:, real:, :3] = 0.0
    globals_ = torch.randn((b, len(GLOBAL_FEATURE_NAMES)), generator=g)
    goals = torch.randn((b, GOAL_DIM), generator=g)
    return Condition(users, globals_, goals, torch.ones((b, len(GOAL_GROUPS))))


def _randomized(kind: str, n: int, horizon: int = 8) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_denoiser(DenoiserConfig(kind=kind, max_users=n, horizon=horizon, width=16))
    for p in model.parameters():  # the output layer starts at zero: make it say something
        torch.nn.init.normal_(p, std=0.2)
    return model.eval()


@pytest.mark.parametrize("kind", ["transformer", "unet"])
@pytest.mark.parametrize("horizon", [8, 5])
def test_noise_prediction_has_the_trajectory_shape(kind, horizon):
    model = _randomized(kind, 6, horizon)
    x = torch.randn((3, horizon + 1, 6))
    eps = model(x, torch.tensor([0, 5, 99]), _condition(3, 6, 4))
    assert eps.shape == x.shape and torch.isfinite(eps).all()


def test_user_transformer_is_permutation_equivariant_over_users():
    model = _randomized("transformer", 5)
    cond = _condition(2, 5, 5)
    x, t = torch.randn((2, 9, 5)), torch.tensor([3, 40])
    perm = torch.tensor([3, 0, 4, 1, 2])
    permuted = Condition(cond.user_features[:, perm], cond.global_features, cond.goals,
                         cond.goal_keep)  # fmt: skip
    with torch.no_grad():
        assert torch.allclose(model(x[..., perm], t, permuted), model(x, t, cond)[..., perm],
                              atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("kind", ["transformer", "unet"])
def test_padded_users_do_not_change_the_prediction_for_real_users(kind):
    model = _randomized(kind, 6)
    cond = _condition(2, 6, 3)
    x, t = torch.randn((2, 9, 6)), torch.tensor([10, 70])
    other = x.clone()
    other[..., 3:] = torch.randn((2, 9, 3))
    with torch.no_grad():
        assert torch.allclose(model(x, t, cond)[..., :3], model(other, t, cond)[..., :3],
                              atol=1e-5)  # fmt: skip


def test_user_transformer_run_on_the_real_users_alone_predicts_what_it_does_padded():
    # the planner leaves padded tokens out (diffusion.planner.Planner.token_count)
    model = _randomized("transformer", 6)
    cond = _condition(2, 6, 3)
    own = Condition(cond.user_features[:, :3], cond.global_features, cond.goals,
                    cond.goal_keep)  # fmt: skip
    x, t = torch.randn((2, 9, 6)), torch.tensor([10, 70])
    with torch.no_grad():
        assert torch.allclose(model(x[..., :3], t, own), model(x, t, cond)[..., :3], atol=1e-5)


def test_a_dropped_goal_group_is_ignored_whatever_its_value():
    model = _randomized("transformer", 4)
    cond = _condition(1, 4, 4)
    dropped = cond.with_goals_kept(torch.zeros(len(GOAL_GROUPS)))
    changed = Condition(cond.user_features, cond.global_features, cond.goals + 5.0,
                        dropped.goal_keep)  # fmt: skip
    x, t = torch.randn((1, 9, 4)), torch.tensor([20])
    with torch.no_grad():
        assert torch.equal(model(x, t, dropped), model(x, t, changed))
        assert not torch.allclose(model(x, t, dropped), model(x, t, cond))


def test_unknown_denoiser_kind_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="transformer.*unet"):
        DenoiserConfig(kind="mlp")
