"""Shared fixtures: paper-fig3 trajectories and a tiny model trained on them."""

from __future__ import annotations

import pytest
import torch

from agents.collect import CollectArgs, collect
from diffusion import TrainArgs, load_planner, train_diffusion

FIG3_OPTIMUM_UTILITY = 24.0922  # exhaustive search, ARCHITECTURE.md
FIG3_OPTIMUM_MW = [28.0, 31.0]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny networks run fastest on one thread, and the test machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def fig3_data(tmp_path_factory):
    """Expert, noisy-expert and random trajectories on the paper's Fig. 3 instance."""
    out = tmp_path_factory.mktemp("fig3") / "data"
    for policy, episodes in [("coordinate", 16), ("noisy:coordinate,sigma=0.5", 32),
                             ("random", 32)]:  # fmt: skip
        collect(CollectArgs(scenario="paper-fig3", policy=policy, episodes=episodes,
                            out=str(out), horizon=8))  # fmt: skip
    return out


@pytest.fixture(scope="session")
def fig3_model(fig3_data, tmp_path_factory):
    """A user-transformer trained for a few seconds on the Fig. 3 data."""
    out = tmp_path_factory.mktemp("model") / "fig3"
    train_diffusion(TrainArgs(data=str(fig3_data), out=str(out), steps=600, batch_size=64,
                              checkpoint_every=300))  # fmt: skip
    return out


@pytest.fixture(scope="session")
def fig3_instance(fig3_data):
    from agents.dataset import TrajectoryDataset

    return TrajectoryDataset.load(fig3_data).instance(0)


@pytest.fixture
def fig3_planner(fig3_model):
    return load_planner(fig3_model)
