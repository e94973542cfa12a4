"""The SAC and BCQ agents that ship in models/ (``make agents``) load, act on any user count
and are worth shipping: close to the best reference on a held-out instance."""

import json

import numpy as np
import pytest

from agents.controllers import DEFAULT_AGENT_DIRS, load_agent, rollout
from evaluation.paper import held_out
from tests.ui.cli_run import run
from twin.controllers import make_controller
from twin.scenario.loader import load_scenario
from twin.sim.twin import Twin
from twin.solvers import best_reference


@pytest.mark.parametrize("kind", ["sac", "bcq"])
def test_shipped_agent_is_small_safe_and_per_user(kind):
    folder = DEFAULT_AGENT_DIRS[kind]
    assert sorted(p.name for p in folder.iterdir()) == ["agent.json", "policy.safetensors"]
    assert (folder / "policy.safetensors").stat().st_size < 5_000_000
    meta = json.loads((folder / "agent.json").read_text(encoding="utf-8"))
    assert meta["formulation"] == "per-user"


@pytest.mark.parametrize("kind", ["sac", "bcq"])
def test_shipped_agent_is_near_the_reference_on_held_out_instances_of_any_size(kind):
    agent = load_agent(kind, DEFAULT_AGENT_DIRS[kind])
    for scenario, users in (("paper-20", None), ("paper-80", 120)):
        inst = held_out(scenario, 7, 1, users)[0]  # a seed the benchmark does not use
        design = rollout(agent, inst, np.zeros(inst.n_users))
        assert set(design.tolist()) <= set(inst.levels_mw.tolist())
        share = inst.objective(design)[0] / inst.objective(best_reference(inst).power_mw)[0]
        assert share > 0.95, (kind, scenario, share)


def test_solve_and_simulate_take_the_shipped_agents_without_a_folder(capsys, tmp_path):
    inst, design = tmp_path / "inst.json", tmp_path / "design.json"
    assert run(capsys, "instance", "paper-20", "--seed", "3", "--out", str(inst))[0] == 0
    for method in ("sac", "bcq"):
        code, out, _ = run(capsys, "solve", str(inst), "--method", method, "--out", str(design))
        assert code == 0 and f"{method}: (" in out and "utility" in out
        assert json.loads(design.read_text(encoding="utf-8"))["source"] == method
    twin = Twin(load_scenario("paper-fig3"), make_controller("sac"))
    log = twin.run()
    assert np.isfinite(log.column("utility")).all()


def test_the_shipped_sac_collects_labeled_per_user_episodes_for_stage_2(tmp_path):
    from agents.collect import CollectArgs, collect
    from agents.user_dataset import UserTrajectoryDataset

    collect(CollectArgs("paper-50", "sac", 2, str(tmp_path), users=[50, 130],
                        formulation="per-user"))  # fmt: skip
    data = UserTrajectoryDataset.load(tmp_path)
    assert data["n_users"].tolist() == [50, 130] and set(data["source"]) == {"sac"}
    for k in range(2):
        inst, powers = data.instance(k), data.power_trajectory(k)
        assert powers.shape == (data.horizon + 1, inst.n_users)
        assert data["final_utility"][k] == pytest.approx(float(inst.objective(powers[-1])[0]))
        assert data["feasible"][k] and np.isnan(data["constraint_limits"][k]).all()
