"""The graph denoiser: permutation-equivariant, any user count, one sum two ways."""

import numpy as np
import pytest
import torch

from diffusion.conditioning import GOAL_DIM
from diffusion.denoisers import DenoiserConfig, GraphDenoiser
from diffusion.graph import design_graph, radio_features
from twin.radio import ProblemInstance


def _instance(n, b=3, seed=0):
    rng = np.random.default_rng(seed)
    gains = 10.0 ** rng.uniform(-13, -10, (n, b))
    return ProblemInstance(gains=gains, assoc=gains.argmax(1), noise_mw=1e-10, bandwidth_hz=1e6,
                           levels_mw=np.arange(0.0, 41.0), price=0.02)  # fmt: skip


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GraphDenoiser(DenoiserConfig(goal_dim=GOAL_DIM, hidden=16, layers=2, step_hidden=16,
                                        step_layers=2, heads=4)).eval()  # fmt: skip


def _predict(model, inst, x, sparse):
    g = design_graph(inst, k=4)
    enc = model.encode(g.static, g.neighbours, g.edges, g.valid, sparse=sparse)
    k = x.shape[0]
    radio = radio_features(g, (x.numpy() + 1) * 20.0)
    goal = torch.zeros((k, GOAL_DIM))
    with torch.no_grad():
        return model.step(enc, x, torch.full((k,), 0.5), radio, torch.ones(k), goal)


@pytest.mark.parametrize("n", [30, 600])  # dense (<= 512 users) and sparse products
def test_planning_products_equal_the_training_gather(model, n):
    inst = _instance(n)
    x = torch.randn((5, n), generator=torch.Generator().manual_seed(1)).clamp(-1, 1)
    np.testing.assert_allclose(_predict(model, inst, x, True), _predict(model, inst, x, False),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_permuting_users_permutes_the_prediction(model):
    inst = _instance(25, seed=2)
    perm = np.random.default_rng(3).permutation(25)
    moved = ProblemInstance(gains=inst.gains[perm], assoc=inst.assoc[perm], noise_mw=1e-10,
                            bandwidth_hz=1e6, levels_mw=inst.levels_mw, price=0.02)  # fmt: skip
    x = torch.randn((3, 25), generator=torch.Generator().manual_seed(4)).clamp(-1, 1)
    a = _predict(model, inst, x, True)
    b = _predict(model, moved, x[:, perm], True)
    np.testing.assert_allclose(b.numpy(), a.numpy()[:, perm], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 7, 600])
def test_any_user_count(model, n):
    inst = _instance(n, b=4, seed=n)
    x = torch.zeros((2, n))
    out = _predict(model, inst, x, True)
    assert out.shape == (2, n) and torch.isfinite(out).all()


def test_a_candidate_is_predicted_alone_as_in_a_batch(model):
    inst = _instance(20, seed=5)
    x = torch.randn((6, 20), generator=torch.Generator().manual_seed(6)).clamp(-1, 1)
    together = _predict(model, inst, x, True)
    alone = _predict(model, inst, x[2:3], True)
    np.testing.assert_allclose(alone[0].numpy(), together[2].numpy(), rtol=1e-5, atol=1e-6)
