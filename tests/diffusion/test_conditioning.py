"""Condition features and labels, checked against hand computations on the Fig. 3 instance."""

import math

import numpy as np
import pytest

from diffusion.conditioning import (
    GOAL_DIM,
    goal_slices,
    goal_vector,
    instance_features,
    instance_relative_quality,
    return_quality,
    return_ranges,
)
from diffusion.data import build_training_data, load_datasets
from diffusion.normalizer import PowerNormalizer
from twin.radio.uplink import Constraints


def test_user_features_of_fig3_match_the_link_budget(fig3_instance):
    users, globals_ = instance_features(fig3_instance, max_users=3)
    snr0 = 1.4e-12 * 40 / 1e-10  # serving SNR of user 0 at 40 mW
    interference0 = 1.0e-12 * 40 / 1e-10  # user 1 at 40 mW, heard at the one BS
    assert users[0, 0] == pytest.approx(10 * math.log10(snr0) / 50, rel=1e-6)
    assert users[0, 2] == pytest.approx(10 * math.log10(1 + interference0) / 50, rel=1e-6)
    assert users[:, 3].tolist() == [1.0, 1.0, 0.0]  # mask: two users, one padded slot
    assert users[2].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert globals_[0] == pytest.approx(2 / 3) and globals_[1] == pytest.approx(0.0225 * 40)


def test_goal_vector_marks_imposed_constraints_and_what_is_asked(fig3_instance):
    from dataclasses import replace

    inst = replace(fig3_instance, constraints=Constraints(max_total_power_mw=40.0))
    goals = goal_vector(0.8, inst, {"max_total_power_mw": False})
    sl = goal_slices()
    assert goals.shape == (GOAL_DIM,) and goals[sl["return"]].tolist() == pytest.approx([0.8])
    assert goals[sl["max_total_power_mw"]].tolist() == pytest.approx([1.0, 40 / 80, 0.0])
    assert goals[sl["min_rate_bps"]].tolist() == [0.0, 0.0, 1.0]  # not imposed: holds


def test_returns_are_normalized_per_user_count():
    returns, n_users = np.array([1.0, 3.0, 2.0, 10.0, 20.0]), np.array([2, 2, 2, 5, 5])
    ranges = return_ranges(returns, n_users)
    assert ranges == {2: [1.0, 3.0], 5: [10.0, 20.0]}
    assert return_quality(returns, n_users, ranges).tolist() == [0.0, 1.0, 0.5, 0.0, 1.0]


def test_instance_relative_quality_compares_episodes_of_the_same_instance_only():
    returns = np.array([5.0, 7.0, 6.0, 1.0])
    quality = instance_relative_quality(returns, ["a", "a", "a", "b"], np.full(4, 0.3))
    assert quality.tolist() == pytest.approx([0.0, 1.0, 0.5, 0.3])  # "b" alone: fallback


def test_training_trajectories_are_normalized_powers(fig3_data):
    data = build_training_data(load_datasets(fig3_data))
    assert data.normalizer == PowerNormalizer(40.0)
    expert = data.x0[0]  # the first shard holds the coordinate (expert) episodes
    assert expert[0].tolist() == [-1.0, -1.0]  # starts at 0 mW
    assert expert[-1].tolist() == pytest.approx([2 * 28 / 40 - 1, 2 * 31 / 40 - 1])
    assert data.cond.goals[0, 0] == pytest.approx(1.0)  # the expert is the best on its instance
    assert len(data) == 80
