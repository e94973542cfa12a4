"""The noise schedule and DDIM step, checked against their closed forms."""

import math

import numpy as np
import pytest
import torch

from diffusion.scheduler import MAX_BETA, DDIMScheduler, SchedulerConfig, cosine_alphas_cumprod


def test_cosine_alphas_cumprod_follow_nichol_dhariwal_eq_17():
    T, s = 100, 0.008
    ab = cosine_alphas_cumprod(T, s)
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 10, 50, 90):
        assert ab[t] == pytest.approx(f(t + 1) / f(0), rel=1e-9)


def test_alphas_cumprod_decrease_strictly_from_near_one_to_near_zero():
    ab = cosine_alphas_cumprod(100)
    assert np.all(np.diff(ab) < 0)
    assert 0.99 < ab[0] < 1.0 and 0.0 < ab[-1] < 1e-3
    betas = 1 - ab[1:] / ab[:-1]
    assert betas.max() <= MAX_BETA


def test_predict_x0_inverts_add_noise():
    sched = DDIMScheduler()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand((4, 9, 3), generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn((4, 9, 3), generator=g, dtype=torch.float64)
    t = torch.tensor([0, 20, 60, 99])
    x_t = sched.add_noise(x0, eps, t)
    assert torch.allclose(sched.predict_x0(x_t, eps, t), x0, atol=1e-9)


@pytest.mark.parametrize("t, t_prev", [(99, 60), (60, 10), (10, 0), (30, -1)])
def test_ddim_step_from_the_true_x0_lands_on_the_forward_marginal(t, t_prev):
    """With x0 exact the implied eps is exact, and eq. 12 (eta = 0) gives
    x_t' = sqrt(ab_t') x0 + sqrt(1 - ab_t') eps; x0 itself at the end."""
    sched = DDIMScheduler()
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand((2, 9), generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn((2, 9), generator=g, dtype=torch.float64)
    x_t = sched.add_noise(x0, eps, torch.tensor(t))
    x_prev = sched.step_from_x0(x0, t, t_prev, x_t)
    expected = x0 if t_prev < 0 else sched.add_noise(x0, eps, torch.tensor(t_prev))
    assert torch.allclose(x_prev, expected, atol=1e-9)


def test_time_fraction_runs_from_one_step_to_one():
    sched = DDIMScheduler(SchedulerConfig(num_train_timesteps=100))
    assert float(sched.time_fraction(0)) == pytest.approx(0.01)
    assert float(sched.time_fraction(99)) == 1.0


def test_ddim_timesteps_run_evenly_from_the_last_training_step_to_zero():
    sched = DDIMScheduler(SchedulerConfig(num_train_timesteps=100))
    assert sched.timesteps(5) == [99, 74, 50, 25, 0]
    assert sched.timesteps(1) == [99]
    with pytest.raises(ValueError, match="between 1 and 100"):
        sched.timesteps(101)
