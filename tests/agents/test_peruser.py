"""The per-user MDP: the action scale, observations of any size, equivariance, the public
environment checkers, the user-slot vector env, and a learnability check that can fail."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import agents
from agents.peruser import (
    USER_FEATURES,
    UserMDPConfig,
    action_for,
    best_response,
    observe_users,
    rollout_users,
    target_power,
    user_rewards,
)
from agents.peruser_env import PerUserEnv, SB3VecEnv, UserSlotsVectorEnv
from agents.sac import scenario_mix
from twin.api import snapshot_instance
from twin.core import AignError
from twin.radio import InstanceSampler, checked_best_response, difference_utility
from twin.scenario import load_scenario
from twin.solvers import exhaustive, solve

CONFIG = UserMDPConfig()
LEVEL = UserMDPConfig(action="level")  # the absolute action scale (and the observed positions)


def instance_of(scenario: str, n_users: int, seed: int = 0):
    return InstanceSampler(load_scenario(scenario), 0).sample(np.random.default_rng(seed), n_users)


def test_every_level_is_the_target_of_its_own_action_and_off_is_reachable():
    inst = snapshot_instance("paper-fig3")  # levels 0, 1, ..., 40 mW
    levels = inst.levels_mw
    assert np.array_equal(target_power(inst, action_for(inst, levels, LEVEL), LEVEL), levels)
    # the log scale: 1 mW at the bottom of the "on" range, 40 mW at the top
    assert target_power(inst, np.array([LEVEL.off_below, 1.0]), LEVEL).tolist() == [1.0, 40.0]
    # only the bottom off_fraction of the interval switches off (no 0 mW cliff)
    grid = np.linspace(-1, 1, 2001)
    off_share = np.mean(target_power(inst, grid, LEVEL) == 0)
    assert off_share == pytest.approx(LEVEL.off_fraction, abs=1e-3)
    assert np.all(np.diff(target_power(inst, grid, LEVEL)) >= 0)


def test_halfway_on_the_action_scale_is_the_geometric_mean_power():
    inst = snapshot_instance("paper-fig3")
    middle = (LEVEL.off_below + 1) / 2
    assert target_power(inst, np.array([middle]), LEVEL)[0] == round(np.sqrt(1 * 40))


def test_a_relative_action_of_zero_is_the_anchor_and_reaches_every_level():
    inst = instance_of("paper-20", 20, seed=1)
    p = inst.levels_mw[np.random.default_rng(2).integers(0, 41, 20)]
    br = best_response(inst, p)
    priced = UserMDPConfig(anchor="priced")
    assert np.array_equal(target_power(inst, np.zeros(20), priced, p), br)
    # priced-on: a = 0 never switches a user off, the anchor is raised to the lowest level
    lowest = inst.levels_mw[inst.levels_mw > 0][0]
    raised = target_power(inst, np.zeros(20), UserMDPConfig(anchor="priced-on"), p)
    assert np.array_equal(raised, np.maximum(br, lowest))
    # checked (the default): the exactly scored best of hold, off, br and its neighbours
    checked = checked_best_response(inst.gains, inst.assoc, p, inst.noise_mw, inst.bandwidth_hz,
                                    inst.price, inst.levels_mw, inst.reuse)  # fmt: skip
    assert np.array_equal(target_power(inst, np.zeros(20), CONFIG, p), checked)
    br = checked
    for level in inst.levels_mw:  # every level (and off) from this state, within [-1, 1]
        target = np.full(20, level)
        a = action_for(inst, target, CONFIG, p)
        assert np.abs(a).max() <= 1
        reached = target_power(inst, a, CONFIG, p)
        # "off" is the only target a clipped action may miss, and only far above it
        assert np.array_equal(reached[reached > 0], target[reached > 0]) or level == 0
    # "off" is a quarter of the log range below the lowest level: no cliff next to it
    assert np.all(target_power(inst, np.full(20, -0.2), CONFIG, p)[br > 0] > 0)


@pytest.mark.parametrize("n_users", [1, 2, 200])
def test_observations_for_any_user_count(n_users):
    inst = instance_of("paper-50", n_users)
    p = inst.levels_mw[np.random.default_rng(1).integers(0, 41, n_users)]
    obs = observe_users(inst, p, 3, CONFIG)
    assert obs.shape == (n_users, len(USER_FEATURES)) and obs.dtype == np.float32
    assert np.isfinite(obs).all() and np.abs(obs).max() <= 10


def test_permuting_users_permutes_observations_rewards_and_the_rollout():
    inst = instance_of("paper-20", 20, seed=2)
    perm = np.random.default_rng(3).permutation(20)
    permuted = type(inst)(inst.gains[perm], inst.assoc[perm], inst.noise_mw, inst.bandwidth_hz,
                          inst.levels_mw, inst.price)  # fmt: skip
    p = inst.levels_mw[np.random.default_rng(4).integers(0, 41, 20)]
    assert np.array_equal(observe_users(permuted, p[perm], 1, CONFIG),
                          observe_users(inst, p, 1, CONFIG)[perm])  # fmt: skip
    before = np.roll(p, 1)
    r, u, _ = user_rewards(inst, p, CONFIG, before)
    r_perm, u_perm, _ = user_rewards(permuted, p[perm], CONFIG, before[perm])
    assert np.allclose(r_perm, r[perm]) and u_perm == pytest.approx(u)

    # a shared policy (any per-row function of the features) acts equivariantly
    def policy(obs):
        return np.tanh(obs @ np.linspace(-1, 1, obs.shape[1]))

    everyone = UserMDPConfig(move_prob=1.0)  # who moves is drawn in user order otherwise
    design = rollout_users(policy, inst, np.zeros(20), everyone)
    assert np.array_equal(rollout_users(policy, permuted, np.zeros(20), everyone), design[perm])


def test_a_user_switched_off_earns_nothing_and_the_rest_earn_their_difference():
    inst = instance_of("paper-20", 6)
    p = np.array([0.0, 5, 10, 20, 40, 1])
    r, _, _ = user_rewards(inst, p, UserMDPConfig(counterfactual="off"))
    du, _ = difference_utility(inst.gains, inst.assoc, p, inst.noise_mw, inst.bandwidth_hz,
                               inst.price)  # fmt: skip
    assert r[0] == 0.0 and np.allclose(r, du)


def test_a_user_that_held_earns_nothing_and_a_mover_earns_what_its_move_gained():
    inst = instance_of("paper-20", 6)
    before = np.array([0.0, 5, 10, 20, 40, 1])
    after = np.array([3.0, 5, 10, 2, 40, 1])  # users 0 and 3 moved
    r, u, _ = user_rewards(inst, after, CONFIG, before)
    assert CONFIG.counterfactual == "hold" and np.array_equal(r[[1, 2, 4, 5]], np.zeros(4))
    for i in (0, 3):
        held = after.copy()
        held[i] = before[i]
        assert r[i] == pytest.approx(u - inst.objective(held)[0])


def test_both_public_checkers_pass_on_the_per_user_env():
    env = gymnasium.make(agents.PER_USER_ENV_ID, scenario="paper-fig3").unwrapped
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(PerUserEnv("default", n_users=5), warn=True)


def test_the_vector_env_is_registered_and_its_slots_are_the_users():
    vec = gymnasium.make_vec(agents.PER_USER_ENV_ID, num_envs=2, scenario="paper-20",
                             users=[3, 5])  # fmt: skip
    assert vec.num_envs == 16 and vec.single_action_space.shape == (1,)
    obs, _ = vec.reset(seed=7)
    assert obs.shape == (16, len(USER_FEATURES))
    for t in range(CONFIG.horizon):
        obs, rewards, terminated, truncated, info = vec.step(np.zeros((16, 1), np.float32))
        assert rewards.shape == (16,) and terminated.all() == (t == CONFIG.horizon - 1)
    assert "final_obs" in info and info["final_obs"].shape == (16, len(USER_FEATURES))


def test_a_seeded_reset_gives_the_same_episode():
    def episode(seed):
        vec = UserSlotsVectorEnv(["paper-20", "paper-fig3"], users=None)
        vec.reset(seed=seed)
        out = [vec.step(np.full((22, 1), 0.3, np.float32))[1] for _ in range(3)]
        return np.concatenate(out)

    assert np.array_equal(episode(5), episode(5)) and not np.array_equal(episode(5), episode(6))


def test_a_mix_entry_can_pin_its_user_count_and_prices_can_be_jittered():
    entries = scenario_mix("paper-20*2,paper-80@7,paper-fig3")
    assert entries == ["paper-20", "paper-20", ("paper-80", 7), "paper-fig3"]
    vec = UserSlotsVectorEnv(entries, users=None)
    assert [e.n_users for e in vec.envs] == [20, 20, 7, 2] and vec.num_envs == 49
    assert vec.envs[2].scenario.name == "paper-80"
    steady = UserSlotsVectorEnv("paper-20", price_jitter=1.0)
    jittered = UserSlotsVectorEnv("paper-20", price_jitter=3.0)
    prices = []
    for vec in (steady, jittered):
        vec.reset(seed=3)
        prices.append(vec.instances[0].price)
    base = load_scenario("paper-20").objective.price_per_mw
    assert prices[0] == pytest.approx(base) and prices[1] != pytest.approx(base)
    assert 1 / 3 <= prices[1] / base <= 3


@pytest.mark.parametrize("spec", ["paper-20@0", "paper-20@x", "paper-20*0", ","])
def test_a_bad_mix_entry_is_refused_with_its_syntax(spec):
    with pytest.raises(AignError):
        scenario_mix(spec)


def test_sb3_adapter_hands_terminal_observations_over():
    vec = SB3VecEnv(UserSlotsVectorEnv("paper-fig3", horizon=2, move_prob=1.0))
    vec.seed(0)
    first = vec.reset()
    vec.step(np.zeros((2, 1), np.float32))
    obs, rewards, dones, infos = vec.step(np.ones((2, 1), np.float32))
    assert dones.all() and first.shape == obs.shape == (2, len(USER_FEATURES))
    # power position after the priced best response + 1 (clipped to 40 mW)
    assert infos[0]["terminal_observation"][1] == pytest.approx(1.0)


@pytest.mark.slow
def test_sac_learns_the_fig3_optimum_with_a_tiny_budget(tmp_path):
    """Learnability (the SB3 identity-env style): a few seconds of per-user SAC on the
    paper's two-user instance must get within 2% of the exhaustive optimum, which actions
    drawn at random miss by far more (checked, so the threshold can fail)."""
    from agents.controllers import load_agent, rollout
    from agents.sac import SACArgs, train_sac

    # Absolute level actions: relative ones start at the priced best response, which is
    # already the optimum of this two-user instance (nothing left to learn there).
    folder = train_sac(SACArgs(scenario="paper-fig3", out=str(tmp_path / "sac"), steps=3000,
                               n_envs=16, learning_starts=256, gradient_steps=8,
                               checkpoint_every=0, net_arch=[32, 32], seed=0,
                               action="level"))  # fmt: skip
    inst = snapshot_instance("paper-fig3")
    best = float(inst.objective(exhaustive(inst))[0])
    agent = load_agent("sac", folder)
    learned = float(inst.objective(rollout(agent, inst, np.zeros(2)))[0])
    rng = np.random.default_rng(0)
    random_designs = [rollout_users(lambda o: rng.uniform(-1, 1, len(o)), inst, np.zeros(2),
                                    agent.config) for _ in range(50)]  # fmt: skip
    random_share = np.mean([inst.objective(p)[0] for p in random_designs]) / best
    assert random_share < 0.95
    assert learned / best >= 0.98


@pytest.mark.parametrize("anchor,method", [("checked", "response"), ("priced", "priced-response")])
def test_an_agent_that_always_answers_zero_ends_on_its_anchors_dynamics(anchor, method):
    # The benchmarks report the classical dynamics as the floor an agent's correction starts
    # from: they must be exactly the rollout of the policy a = 0.
    config = UserMDPConfig(anchor=anchor)
    for seed in range(3):
        inst = instance_of("paper-50", 50, seed=seed)
        rolled = rollout_users(lambda obs: np.zeros(len(obs)), inst, np.zeros(50), config)
        assert np.array_equal(rolled, solve(inst, method).power_mw)


def test_the_anchor_cache_answers_alike_and_keeps_no_instance_alive():
    import gc
    import weakref

    from agents.peruser import anchor_power

    inst = instance_of("paper-20", 20, seed=3)
    p = inst.levels_mw[np.random.default_rng(4).integers(0, 41, 20)]
    first = anchor_power(inst, p, CONFIG)
    assert np.array_equal(first, checked_best_response(
        inst.gains, inst.assoc, p, inst.noise_mw, inst.bandwidth_hz, inst.price,
        inst.levels_mw, inst.reuse))  # fmt: skip
    assert anchor_power(inst, p.copy(), CONFIG) is first and not first.flags.writeable
    # another anchor at the same powers is another entry, not the cached one
    assert np.array_equal(anchor_power(inst, p, UserMDPConfig(anchor="priced")),
                          best_response(inst, p))  # fmt: skip
    alive = weakref.ref(inst)
    del inst
    gc.collect()
    assert alive() is None


def test_a_dead_zone_makes_small_actions_the_anchor_and_keeps_every_level_reachable():
    inst = instance_of("paper-20", 20, seed=1)
    p = inst.levels_mw[np.random.default_rng(2).integers(0, 41, 20)]
    zone = UserMDPConfig(dead_zone=0.1)
    anchor = target_power(inst, np.zeros(20), CONFIG, p)
    for a in (0.05, -0.09, 0.0999):
        assert np.array_equal(target_power(inst, np.full(20, a), zone, p), anchor)
    assert np.array_equal(target_power(inst, np.ones(20), zone, p),
                          target_power(inst, np.ones(20), CONFIG, p))  # fmt: skip
    for level in inst.levels_mw[1:]:
        target = np.full(20, level)
        assert np.array_equal(target_power(inst, action_for(inst, target, zone, p), zone, p),
                              target)  # fmt: skip
