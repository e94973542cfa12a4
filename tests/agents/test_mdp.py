"""The MDP's step functions: batched calls give, row by row, exactly the single-call result."""

import numpy as np

from agents.mdp import MDPConfig, action_towards, next_power
from twin.api import snapshot_instance


def test_batched_steps_equal_one_candidate_at_a_time():
    instance = snapshot_instance("paper-20")
    config = MDPConfig(max_users=24, horizon=8)
    rng = np.random.default_rng(0)
    levels = instance.levels_mw
    power = levels[rng.integers(0, len(levels), (7, 20))]
    target = levels[rng.integers(0, len(levels), (7, 20))]
    actions = action_towards(instance, power, target, config)
    moved = next_power(instance, power, actions, config)
    assert actions.shape == (7, 24) and actions.dtype == np.float32
    assert not actions[:, 20:].any()  # padded users never move
    for c in range(7):
        one = action_towards(instance, power[c], target[c], config)
        assert np.array_equal(one, actions[c])
        assert np.array_equal(next_power(instance, power[c], one, config), moved[c])
    # a step of a quarter of the top level reaches any target within four steps
    p = power
    for _ in range(4):
        p = next_power(instance, p, action_towards(instance, p, target, config), config)
    assert np.array_equal(p, target)
