"""One user's move, valued exactly: against the literal objective with that user moved, and
the checked best response against what it promises (never worse than holding, than the
priced best response, or than switching off, each valued literally)."""

import numpy as np
import pytest

from twin.radio import (
    InstanceSampler,
    checked_best_response,
    deviation_value,
    objective,
    priced_best_response,
)
from twin.scenario import load_scenario

NOISE, BW, PRICE = 1e-10, 1e6, 0.0225
LEVELS = np.arange(0.0, 41.0)


def random_network(n_users=16, n_bs=5, seed=0):
    rng = np.random.default_rng(seed)
    gains = 10 ** rng.uniform(-13, -10, size=(n_users, n_bs))
    assoc = np.argmax(gains, axis=1)
    power = rng.choice(LEVELS, n_users)
    return gains, assoc, power


def literal(gains, assoc, power, target, reuse):
    """``U(p with p_i = t_i) - U(p)``, one objective per user."""
    moved = np.repeat(power[None, :], power.size, axis=0)
    np.fill_diagonal(moved, target)
    u, _ = objective(gains, assoc, moved, NOISE, BW, PRICE, reuse=reuse)
    return u - objective(gains, assoc, power, NOISE, BW, PRICE, reuse=reuse)[0]


@pytest.mark.parametrize("reuse", ["shared", "orthogonal_in_cell"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_with_every_cell_exact_the_value_is_the_literal_objective_difference(reuse, seed):
    gains, assoc, power = random_network(seed=seed)
    rng = np.random.default_rng(seed + 10)
    for target in (np.zeros_like(power), rng.choice(LEVELS, power.size), power):
        value = deviation_value(gains, assoc, power, target, NOISE, BW, PRICE, reuse,
                                exact_cells=gains.shape[1])  # fmt: skip
        np.testing.assert_allclose(value, literal(gains, assoc, power, target, reuse),
                                   rtol=1e-9, atol=1e-9)  # fmt: skip


def test_fewer_exact_cells_stay_close_and_none_is_the_first_order_estimate():
    gains, assoc, power = random_network(n_users=40, n_bs=8, seed=3)
    target = np.zeros_like(power)
    truth = literal(gains, assoc, power, target, "shared")
    errors = [np.abs(deviation_value(gains, assoc, power, target, NOISE, BW, PRICE, exact_cells=m)
                     - truth).max() for m in (8, 4, 2, 0)]  # fmt: skip
    assert errors[0] < 1e-9
    # more exact cells never hurt, and the linear estimate alone is far off for "off"
    assert errors[0] <= errors[1] <= errors[2] + 1e-12 < errors[3]
    assert errors[3] > 10 * max(errors[1], 1e-6)


def test_permuting_users_permutes_the_values():
    gains, assoc, power = random_network(seed=4)
    perm = np.random.default_rng(5).permutation(power.size)
    target = np.zeros_like(power)
    v = deviation_value(gains, assoc, power, target, NOISE, BW, PRICE)
    vp = deviation_value(gains[perm], assoc[perm], power[perm], target, NOISE, BW, PRICE)
    np.testing.assert_allclose(vp, v[perm], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_checked_response_beats_holding_pricing_and_switching_off(seed):
    gains, assoc, power = random_network(n_users=24, n_bs=4, seed=seed)
    checked = checked_best_response(gains, assoc, power, NOISE, BW, PRICE, LEVELS)
    priced = priced_best_response(gains, assoc, power, NOISE, BW, PRICE, LEVELS)
    assert set(np.unique(checked)) <= set(LEVELS)
    mine = literal(gains, assoc, power, checked, "shared")
    assert np.all(mine >= -1e-9)  # holding is worth 0
    assert np.all(mine >= literal(gains, assoc, power, priced, "shared") - 1e-9)
    assert np.all(mine >= literal(gains, assoc, power, np.zeros_like(power), "shared") - 1e-9)


def test_users_that_drown_a_neighbour_yield_where_the_linear_price_keeps_them_on():
    # Priced best responses played asynchronously from 0 mW on paper-50 instances (the
    # dynamics of the agents' "priced" anchor) stall with some users on that should yield:
    # switching them off pays, literally, and the checked response finds it.
    sampler = InstanceSampler(load_scenario("paper-50"), 0)
    yielded = 0
    for seed in range(20, 26):
        inst = sampler.sample(np.random.default_rng(seed), None)
        radio = (inst.gains, inst.assoc)
        setting = (inst.noise_mw, inst.bandwidth_hz, inst.price, inst.levels_mw, inst.reuse)
        rng, p = np.random.default_rng(0), np.zeros(inst.n_users)
        for _ in range(16):
            p = np.where(rng.random(p.size) < 0.5, priced_best_response(*radio, p, *setting), p)
        priced = priced_best_response(*radio, p, *setting)
        checked = checked_best_response(*radio, p, *setting)
        off = inst.objective(np.where(np.eye(p.size, dtype=bool), 0.0, p))[0]
        kept_on = (checked == 0) & (priced > 0) & (p > 0)
        assert np.all(off[kept_on] > inst.objective(p)[0])
        yielded += int(kept_on.sum())
    assert yielded >= 2
