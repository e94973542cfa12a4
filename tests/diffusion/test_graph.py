"""The planner's graph: layout of the interference graph, radio features, equivariance."""

import numpy as np
import pytest

from diffusion.graph import EDGE_FEATURES, RADIO_FEATURES, design_graph, radio_features
from twin.radio import Constraints, ProblemInstance, user_radio_state


def _instance(n=12, b=3, seed=0, **kw) -> ProblemInstance:
    rng = np.random.default_rng(seed)
    gains = 10.0 ** rng.uniform(-13, -10, (n, b))
    return ProblemInstance(gains=gains, assoc=gains.argmax(1), noise_mw=1e-10, bandwidth_hz=1e6,
                           levels_mw=np.arange(0.0, 41.0), price=0.02, **kw)  # fmt: skip


def test_each_user_lists_its_strongest_interferers_at_its_serving_bs():
    inst = _instance(n=10, b=2)
    g = design_graph(inst, k=3)
    cross = inst.gains[:, inst.assoc].T.copy()  # cross[i, m] = g[m, b(i)]
    np.fill_diagonal(cross, -1.0)
    for i in range(inst.n_users):
        expected = np.argsort(-cross[i], kind="stable")[:3]
        assert g.neighbours[i].tolist() == expected.tolist()
        assert g.valid[i].tolist() == [1.0, 1.0, 1.0]


def test_a_user_with_fewer_interferers_than_k_is_padded_and_masked():
    inst = _instance(n=3, b=1)
    g = design_graph(inst, k=8)
    assert g.neighbours.shape == (3, 2) and g.valid.sum(1).tolist() == [2.0, 2.0, 2.0]


def test_hit_back_is_how_hard_the_victim_hits_its_interferer():
    inst = _instance(n=8, b=3, seed=1)
    g = design_graph(inst, k=2)
    i, slot = 5, 0
    m = int(g.neighbours[i, slot])
    a, gains = inst.assoc, inst.gains
    expected = 10 * np.log10(gains[i, a[m]] / gains[m, a[m]]) / 20.0
    assert float(g.edges[i, slot, EDGE_FEATURES.index("hit_back_db")]) == pytest.approx(
        np.clip(expected, -10, 10), abs=1e-5)


def test_radio_features_follow_the_twin_radio_state():
    inst = _instance(seed=2)
    g = design_graph(inst)
    p = np.random.default_rng(3).uniform(0, 40, (4, inst.n_users))
    f = radio_features(g, p).numpy()
    state = user_radio_state(inst.gains, inst.assoc, p, inst.noise_mw, inst.bandwidth_hz)
    assert f.shape == (4, inst.n_users, len(RADIO_FEATURES))
    col = RADIO_FEATURES.index("sinr_db")
    np.testing.assert_allclose(f[..., col], 10 * np.log10(1 + state.sinr) / 20, rtol=1e-5)
    np.testing.assert_allclose(f[..., RADIO_FEATURES.index("power")], p / 40.0, rtol=1e-6)
    # no constraint imposed: the margins are zero
    assert not f[..., RADIO_FEATURES.index("rate_margin")].any()
    assert not f[..., RADIO_FEATURES.index("budget_margin")].any()


def test_budget_margin_is_positive_under_the_budget_and_negative_over_it():
    inst = _instance(seed=4, constraints=Constraints(max_total_power_mw=100.0))
    g = design_graph(inst)
    p = np.stack([np.full(inst.n_users, 5.0), np.full(inst.n_users, 20.0)])  # 60 / 240 mW
    margin = radio_features(g, p).numpy()[..., RADIO_FEATURES.index("budget_margin")]
    assert (margin[0] > 0).all() and (margin[1] < 0).all()


def test_permuting_users_permutes_the_graph():
    inst = _instance(n=15, b=3, seed=5)
    perm = np.random.default_rng(6).permutation(inst.n_users)
    moved = ProblemInstance(gains=inst.gains[perm], assoc=inst.assoc[perm], noise_mw=1e-10,
                            bandwidth_hz=1e6, levels_mw=inst.levels_mw, price=0.02)  # fmt: skip
    a, b = design_graph(inst, k=4), design_graph(moved, k=4)
    np.testing.assert_array_equal(b.static.numpy(), a.static.numpy()[perm])
    # b's user j is a's user perm[j]: its neighbours, renamed to a's users, are a's
    np.testing.assert_array_equal(perm[b.neighbours.numpy()], a.neighbours.numpy()[perm])
    np.testing.assert_allclose(b.edges.numpy(), a.edges.numpy()[perm])

