"""Shared fixtures: small instances like the paper's Fig. 3 one, and a tiny model on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion import DesignData, TrainArgs, examples_from_arrays, load_planner, train_diffusion
from twin.radio import ProblemInstance
from twin.solvers import exhaustive

FIG3_OPTIMUM_UTILITY = 24.0922  # exhaustive search, ARCHITECTURE.md
FIG3_OPTIMUM_MW = [28.0, 31.0]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny networks run fastest on one thread, and the test machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_instances(count: int, seed: int) -> list[ProblemInstance]:
    """One BS, two or three users, gains and price drawn around the Fig. 3 instance's."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(2, 4))
        gains = 1.2e-12 * 10.0 ** rng.uniform(-0.4, 0.4, (n, 1))
        out.append(ProblemInstance(gains=gains, assoc=np.zeros(n, np.intp), noise_mw=1e-10,
                                   bandwidth_hz=1e6, levels_mw=np.arange(0.0, 41.0),
                                   price=float(rng.uniform(0.015, 0.03))))  # fmt: skip
    return out


@pytest.fixture(scope="session")
def small_data() -> DesignData:
    """Instances near Fig. 3's with their exact optima (and one worse design each, so the
    return goal is learned too)."""
    insts = small_instances(80, seed=11)
    best = [exhaustive(i) for i in insts]
    worse = [np.clip(b - 8.0, 0.0, 40.0) for b in best]
    examples = examples_from_arrays(insts + insts, best + worse,
                                    groups=list(range(80)) * 2)  # fmt: skip
    return DesignData(examples, {"fixture": "small instances near Fig. 3"})


@pytest.fixture(scope="session")
def tiny_model(small_data, tmp_path_factory):
    """A small graph denoiser trained for a few seconds on them."""
    out = tmp_path_factory.mktemp("model") / "tiny"
    train_diffusion(TrainArgs(data=[], out=str(out), steps=400, hidden=24, layers=2,
                              step_hidden=24, checkpoint_every=200), data=small_data)  # fmt: skip
    return out


@pytest.fixture
def tiny_planner(tiny_model):
    return load_planner(tiny_model)
