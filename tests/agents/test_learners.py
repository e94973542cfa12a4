"""SAC and BCQ smoke runs of the joint formulation (the ablation): tiny budgets, loadable
controllers, clear refusals. The per-user formulation: tests/agents/test_peruser.py."""

import numpy as np
import pytest

from agents.bcq import BCQArgs, train_bcq
from agents.collect import CollectArgs, collect
from agents.policies import make_policy
from agents.sac import SACArgs, train_sac
from twin.controllers import Controller, make_controller
from twin.core.errors import AignError
from twin.scenario.loader import load_scenario
from twin.sim.twin import Twin


@pytest.fixture(scope="module")
def sac_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sac")
    train_sac(SACArgs(scenario="paper-fig3", out=str(out), formulation="joint", steps=160,
                      learning_starts=64,
                      batch_size=32, checkpoint_every=80, net_arch=[32, 32]))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def bcq_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for policy in ("random", "coordinate"):
        collect(CollectArgs("paper-fig3", policy, episodes=8, out=str(data), batch=8, horizon=8))
    out = tmp_path_factory.mktemp("bcq")
    train_bcq(BCQArgs(data=str(data), out=str(out), steps=20, batch_size=32, n_action_samples=5))
    return out


def test_sac_run_writes_a_safe_agent_with_checkpoints(sac_dir):
    assert (sac_dir / "policy.safetensors").exists() and (sac_dir / "agent.json").exists()
    assert (sac_dir / "model.zip").exists()
    steps = sorted(p.name for p in (sac_dir / "checkpoints").iterdir())
    assert steps == ["step-160", "step-80"]
    assert any((sac_dir / "tb").rglob("events.out.tfevents.*"))


@pytest.mark.parametrize("kind", ["sac", "bcq"])
def test_trained_agent_is_a_controller_the_twin_runs(kind, sac_dir, bcq_dir):
    folder = sac_dir if kind == "sac" else bcq_dir
    controller = make_controller(f"{kind}:{folder}")
    assert isinstance(controller, Controller)
    twin = Twin(load_scenario("paper-fig3"), controller)
    log = twin.run()
    assert set(twin.power_mw.tolist()) <= set(range(41))
    assert np.isfinite(log.column("utility")).all()


def test_sac_checkpoint_and_model_zip_paths_load_too(sac_dir):
    make_controller(f"sac:{sac_dir / 'checkpoints' / 'step-80'}")
    make_controller(f"sac:{sac_dir / 'model.zip'}")


def test_model_for_fewer_users_refuses_a_larger_scenario(sac_dir):
    scenario = load_scenario("default")  # 20 users; the agent was trained for 2
    with pytest.raises(AignError, match="at most 2"):
        Twin(scenario, make_controller(f"sac:{sac_dir}"))


def test_collection_policy_with_another_observation_size_is_refused(sac_dir):
    from agents.mdp import MDPConfig

    with pytest.raises(AignError, match="trained for 2 users"):
        make_policy(f"sac:{sac_dir}", MDPConfig(max_users=20))


def test_corrupt_weights_give_a_clear_error(tmp_path, sac_dir):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(sac_dir, broken)
    (broken / "policy.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(AignError, match="cannot load the policy weights"):
        make_controller(f"sac:{broken}")


def test_folder_without_agent_is_refused(tmp_path):
    with pytest.raises(AignError, match="no agent.json"):
        make_controller(f"bcq:{tmp_path}")
