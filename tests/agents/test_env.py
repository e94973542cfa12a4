"""The Gymnasium environment: both public checkers, determinism, padding and the MDP."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import agents
from agents.env import PowerAllocationEnv
from agents.mdp import action_towards
from twin.solvers import exhaustive


def test_gymnasium_check_env_passes():
    env = gymnasium.make(agents.ENV_ID, scenario="paper-fig3").unwrapped
    gym_check_env(env, skip_render_check=True)


def test_sb3_check_env_passes_on_a_multi_bs_scenario_with_padding():
    env = PowerAllocationEnv("default", users=[5, 12], max_users=16)
    sb3_check_env(env, warn=True)


def test_reset_with_a_seed_draws_the_same_instance():
    env = PowerAllocationEnv("default", users=[5, 12])
    obs_a, _ = env.reset(seed=4)
    gains_a = env.instance.gains.copy()
    obs_b, _ = env.reset(seed=4)
    assert np.array_equal(obs_a, obs_b) and np.array_equal(gains_a, env.instance.gains)
    env.reset(seed=5)
    assert not np.array_equal(gains_a, env.instance.gains)


def test_padded_users_are_masked_and_ignore_actions():
    env = PowerAllocationEnv("default", users=[3], max_users=8)
    obs, info = env.reset(seed=0)
    mask = obs[: 8 * 6].reshape(8, 6)[:, 5]
    assert mask.tolist() == [1, 1, 1, 0, 0, 0, 0, 0] and info["n_users"] == 3
    env.step(np.ones(8, dtype=np.float32))
    assert env.power_mw.shape == (3,)


def test_steering_towards_the_fig3_optimum_reaches_it_within_the_horizon():
    env = PowerAllocationEnv("paper-fig3", horizon=8)
    env.reset(seed=0)
    target = exhaustive(env.instance)
    total, done = 0.0, False
    while not done:
        action = action_towards(env.instance, env.power_mw, target, env.config)
        _, r, done, _, info = env.step(action)
        total += r
    assert info["power_mw"] == [28.0, 31.0]
    assert info["utility"] == pytest.approx(24.0922, abs=1e-4)
    assert env.t == 8 and total > 0


def test_reward_is_utility_per_user():
    env = PowerAllocationEnv("paper-fig3")
    env.reset(seed=0)
    _, r, _, _, info = env.step(np.full(2, 0.5, dtype=np.float32))
    assert env.power_mw.tolist() == [5.0, 5.0]
    assert r == pytest.approx(info["utility"] / 2)


def test_too_many_users_for_the_model_is_refused():
    env = PowerAllocationEnv("default", users=[4])
    big = PowerAllocationEnv("default", users=[6]).sampler.sample(np.random.default_rng(0), 6)
    with pytest.raises(ValueError, match="at most 4"):
        env.reset(options={"instance": big})
