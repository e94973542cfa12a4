"""Per-user radio quantities against finite differences of the utility, and the interference
graph against brute force: the closed forms and the sparse selection must agree with truth."""

import numpy as np
import pytest

from twin.radio import (
    Constraints,
    difference_utility,
    interference_graph,
    objective,
    rate_bps,
    sinr,
    strongest_interferers,
    user_radio_state,
)

NOISE, BW, PRICE = 1e-10, 1e6, 0.0225


def random_network(n_users=12, n_bs=4, seed=0):
    rng = np.random.default_rng(seed)
    gains = 10 ** rng.uniform(-13, -10, size=(n_users, n_bs))
    assoc = np.argmax(gains, axis=1)
    power = rng.uniform(1, 40, n_users)
    return gains, assoc, power


def log_rates(gains, assoc, power, reuse):
    return np.log1p(rate_bps(sinr(gains, assoc, power, NOISE, reuse), BW))


@pytest.mark.parametrize("reuse", ["shared", "orthogonal_in_cell"])
def test_interference_price_is_what_the_others_lose_per_mw(reuse):
    gains, assoc, power = random_network()
    state = user_radio_state(gains, assoc, power, NOISE, BW, reuse)
    h = 1e-4
    for i in range(len(power)):
        up, down = power.copy(), power.copy()
        up[i] += h
        down[i] -= h
        others = np.arange(len(power)) != i
        loss = -(log_rates(gains, assoc, up, reuse)[others].sum()
                 - log_rates(gains, assoc, down, reuse)[others].sum()) / (2 * h)  # fmt: skip
        assert state.interference_price[i] == pytest.approx(loss, rel=1e-5, abs=1e-12)
        own = (log_rates(gains, assoc, up, reuse)[i]
               - log_rates(gains, assoc, down, reuse)[i]) / (2 * h)  # fmt: skip
        assert state.own_benefit[i] == pytest.approx(own, rel=1e-5)


def test_utility_gradient_matches_the_objective_on_the_fig3_instance():
    gains, assoc = np.array([[1.4e-12], [1.0e-12]]), np.array([0, 0])
    h = 1e-4
    for power in (np.array([28.0, 31.0]), np.array([5.0, 40.0])):
        grad = user_radio_state(gains, assoc, power, NOISE, BW).utility_gradient(PRICE)
        for i in range(2):
            up, down = power.copy(), power.copy()
            up[i] += h
            down[i] -= h
            fd = (objective(gains, assoc, up, NOISE, BW, PRICE)[0]
                  - objective(gains, assoc, down, NOISE, BW, PRICE)[0]) / (2 * h)  # fmt: skip
            assert grad[i] == pytest.approx(float(fd), rel=1e-5, abs=1e-9)


def test_at_the_fig3_optimum_no_single_level_step_pays():
    # (28, 31) is the discrete optimum: the gradient is within a level's worth of zero.
    gains, assoc = np.array([[1.4e-12], [1.0e-12]]), np.array([0, 0])
    grad = user_radio_state(gains, assoc, np.array([28.0, 31.0]), NOISE, BW).utility_gradient(
        PRICE
    )
    assert np.all(np.abs(grad) < 0.01)


def test_nobody_transmitting_costs_nobody_anything():
    gains, assoc, _ = random_network()
    state = user_radio_state(gains, assoc, np.zeros(len(assoc)), NOISE, BW)
    assert np.all(state.interference_price == 0) and np.all(state.own_benefit > 0)


def test_batched_powers_give_each_row_its_own_state():
    gains, assoc, power = random_network()
    batch = np.stack([power, power / 2, np.zeros_like(power)])
    state = user_radio_state(gains, assoc, batch, NOISE, BW)
    for row in range(3):
        alone = user_radio_state(gains, assoc, batch[row], NOISE, BW)
        assert np.allclose(state.interference_price[row], alone.interference_price, rtol=1e-12)
        assert np.allclose(state.own_benefit[row], alone.own_benefit, rtol=1e-12)


@pytest.mark.parametrize("reuse", ["shared", "orthogonal_in_cell"])
def test_difference_utility_switches_each_user_off_in_turn(reuse):
    gains, assoc, power = random_network(n_users=9, seed=3)
    constraints = Constraints(min_rate_bps=2e5, max_total_power_mw=150.0)
    du, dv = difference_utility(gains, assoc, power, NOISE, BW, PRICE, constraints, reuse,
                                chunk=4)  # fmt: skip
    u, v = objective(gains, assoc, power, NOISE, BW, PRICE, constraints, reuse)
    for i in range(len(power)):
        off = power.copy()
        off[i] = 0.0
        u_off, v_off = objective(gains, assoc, off, NOISE, BW, PRICE, constraints, reuse)
        assert du[i] == pytest.approx(float(u - u_off), rel=1e-12)
        assert dv[i] == pytest.approx(float(v - v_off), abs=1e-12)


# --------------------------------------------------------------------------- the graph
def brute_force_edges(gains, assoc, k, reuse):
    edges = set()
    for i in range(gains.shape[0]):
        others = [j for j in range(gains.shape[0]) if j != i
                  and (reuse == "shared" or assoc[j] != assoc[i])]  # fmt: skip
        loud = sorted(others, key=lambda j: -gains[j, assoc[i]])[:k]
        edges |= {(j, i) for j in loud}
    return edges


@pytest.mark.parametrize("reuse", ["shared", "orthogonal_in_cell"])
@pytest.mark.parametrize("k", [0, 1, 3, 30])
def test_edges_are_each_victims_k_loudest_interferers(reuse, k):
    gains, assoc, _ = random_network(n_users=15, n_bs=3, seed=k)
    senders, receivers = strongest_interferers(gains, assoc, k, reuse)
    assert set(zip(senders.tolist(), receivers.tolist(), strict=True)) == brute_force_edges(
        gains, assoc, k, reuse
    )
    # strongest first within each victim
    for i in range(15):
        loud = gains[senders[receivers == i], assoc[i]]
        assert np.all(np.diff(loud) <= 0)


def test_permuting_users_permutes_the_graph():
    gains, assoc, _ = random_network(n_users=20, n_bs=5, seed=7)
    perm = np.random.default_rng(1).permutation(20)  # new user u is old user perm[u]
    a = interference_graph(gains, assoc, NOISE, 40.0, PRICE, k=4)
    b = interference_graph(gains[perm], assoc[perm], NOISE, 40.0, PRICE, k=4)
    assert np.array_equal(b.node_features, a.node_features[perm])
    edges_a = {(s, r): tuple(f) for s, r, f in
               zip(a.senders, a.receivers, a.edge_features.tolist(), strict=True)}  # fmt: skip
    edges_b = {(perm[s], perm[r]): tuple(f) for s, r, f in
               zip(b.senders, b.receivers, b.edge_features.tolist(), strict=True)}  # fmt: skip
    assert edges_a == edges_b


def test_edges_plus_the_rest_are_all_the_interference():
    gains, assoc, _ = random_network(n_users=10, n_bs=2, seed=2)
    g = interference_graph(gains, assoc, NOISE, 40.0, PRICE, k=3)
    full = 40.0 / NOISE
    total = 10 ** (g.node_features[:, 1].astype(float) * 2) - 1  # undo dB / 20
    rest = 10 ** (g.node_features[:, 2].astype(float) * 2) - 1
    cross = 10 ** (g.edge_features[:, 1].astype(float) * 2)
    on_edges = np.bincount(g.receivers, weights=cross, minlength=10)
    assert np.allclose(rest + on_edges, total, rtol=1e-4)
    heard = [sum(gains[j, assoc[i]] for j in range(10) if j != i) * full for i in range(10)]
    assert np.allclose(total, heard, rtol=1e-4)


def test_features_are_scale_free_and_sized_by_the_contract():
    gains, assoc, _ = random_network(n_users=7, n_bs=3, seed=4)
    a = interference_graph(gains, assoc, NOISE, 40.0, PRICE, k=2)
    b = interference_graph(gains * 1e3, assoc, NOISE * 1e3, 40.0, PRICE, k=2)
    assert np.allclose(a.node_features, b.node_features, atol=1e-5)
    assert np.allclose(a.edge_features, b.edge_features, atol=1e-5)
    assert a.node_features.shape == (7, len(a.NODE_FEATURES))
    assert a.edge_features.shape == (14, len(a.EDGE_FEATURES)) and a.n_users == 7


@pytest.mark.parametrize("n_users", [1, 2, 200])
def test_any_user_count_builds(n_users):
    gains, assoc, _ = random_network(n_users=n_users, n_bs=9, seed=n_users)
    g = interference_graph(gains, assoc, NOISE, 40.0, PRICE, k=8)
    assert g.n_users == n_users and len(g.senders) == n_users * min(8, n_users - 1)
    assert np.isfinite(g.node_features).all() and np.isfinite(g.edge_features).all()


def test_priced_best_response_is_the_argmax_of_the_priced_local_objective():
    from twin.radio import priced_best_response

    gains, assoc, power = random_network(n_users=6, seed=5)
    levels = np.arange(41.0)
    best = priced_best_response(gains, assoc, power, NOISE, BW, PRICE, levels)
    state = user_radio_state(gains, assoc, power, NOISE, BW)
    for i in range(6):
        values = [np.log1p(BW * np.log2(1 + gains[i, assoc[i]] * lv
                                        / (NOISE + state.interference_mw[i])))
                  - (PRICE + state.interference_price[i]) * lv for lv in levels]  # fmt: skip
        assert best[i] == levels[int(np.argmax(values))]
    # on the fig3 instance, from the optimum, each user's priced best response stays put
    g2, a2 = np.array([[1.4e-12], [1.0e-12]]), np.array([0, 0])
    assert priced_best_response(g2, a2, np.array([28.0, 31.0]), NOISE, BW, PRICE,
                                levels).tolist() == [28.0, 31.0]  # fmt: skip


@pytest.mark.parametrize("name", ["paper-20", "scale-1000x20"])
def test_the_best_response_bisection_finds_the_level_scoring_every_level_finds(name):
    from evaluation.paper import held_out
    from twin.radio import priced_best_response, user_radio_state

    for inst in held_out(name, 0, 2, n_users=60):
        p = np.random.default_rng(1).choice(inst.levels_mw, size=(8, inst.n_users))
        state = user_radio_state(inst.gains, inst.assoc, p, inst.noise_mw, inst.bandwidth_hz,
                                 inst.reuse)  # fmt: skip
        best, gain = priced_best_response(inst.gains, inst.assoc, p, inst.noise_mw,
                                          inst.bandwidth_hz, inst.price, inst.levels_mw,
                                          inst.reuse, state=state, with_gain=True)  # fmt: skip
        per_mw = inst.gains[np.arange(inst.n_users), inst.assoc] / (
            inst.noise_mw + state.interference_mw)  # fmt: skip
        unit = inst.price + state.interference_price

        w = inst.bandwidth_hz  # the priced value, every level scored (the definition):
        scored = np.log1p(w * np.log2(1 + per_mw[..., None] * inst.levels_mw)) - unit[
            ..., None] * inst.levels_mw  # fmt: skip
        assert np.array_equal(best, inst.levels_mw[np.argmax(scored, -1)])
        now = np.log1p(w * np.log2(1 + per_mw * p)) - unit * p
        assert np.allclose(gain, scored.max(-1) - now, rtol=0, atol=1e-9)
