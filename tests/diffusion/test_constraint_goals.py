"""Constraint goals from per-episode limits: what the model is trained on, what it records, and
the warnings a plan carries when its constraints leave what the model saw."""

from dataclasses import replace

import numpy as np
import pytest

from agents.collect import CollectArgs, collect
from agents.constraint_draw import parse_impose
from agents.dataset import CONSTRAINT_NAMES, TrajectoryDataset
from diffusion import TrainArgs, load_planner, train_diffusion
from diffusion.conditioning import constraint_goal, goal_slices
from diffusion.data import build_training_data
from twin.api import snapshot_instance


@pytest.fixture(scope="module")
def min_rate_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("constrained") / "data"
    impose = parse_impose(["min-rate"])
    for policy in ("coordinate", "random"):
        collect(CollectArgs(scenario="paper-20", policy=policy, episodes=6, batch=6,
                            out=str(out), horizon=4, impose=impose))  # fmt: skip
    return out


def test_training_goals_carry_each_episode_limit_and_label(min_rate_data):
    ds = TrajectoryDataset.load(min_rate_data)
    data = build_training_data([ds])
    group = data.cond.goals[:, goal_slices()["min_rate_bps"]].numpy()
    budget = data.cond.goals[:, goal_slices()["max_total_power_mw"]].numpy()
    c = CONSTRAINT_NAMES.index("min_rate_bps")
    for k in range(ds.n_episodes):
        inst = ds.instance(k)
        expected = constraint_goal("min_rate_bps", inst.constraints, True, inst.n_users,
                                   inst.max_power_mw, inst.noise_mw)  # fmt: skip
        assert group[k, 0] == 1.0 and group[k, 1] == pytest.approx(expected[1])
        assert group[k, 2] == float(ds["constraint_ok"][k, c])
    assert (budget == [0.0, 0.0, 1.0]).all()  # not imposed: always "holds"
    assert 0.0 < group[:, 2].mean() < 1.0  # both labels present (expert vs random)
    limits = data.provenance["normalized_limits"]
    assert set(limits) == {"min_rate_bps"}
    assert limits["min_rate_bps"] == [pytest.approx(group[:, 1].min()),
                                      pytest.approx(group[:, 1].max())]  # fmt: skip
    recorded = data.provenance["datasets"][0]["constraints"]
    assert recorded["min_rate_bps"]["episodes"] == 12


def test_plans_warn_about_unseen_constraints_and_limits_beyond_training(min_rate_data, tmp_path):
    train_diffusion(TrainArgs(data=str(min_rate_data), out=str(tmp_path / "m"), width=16,
                              steps=3, batch_size=8))  # fmt: skip
    planner = load_planner(tmp_path / "m")
    ds = TrajectoryDataset.load(min_rate_data)
    inside = ds.instance(0)  # a limit the model was trained on

    def warnings(inst):
        return planner.plan(inst, candidates=2, steps=2, recover_actions=False).warnings

    assert not any("min_rate_bps" in w for w in warnings(inside))
    base = snapshot_instance("paper-20")
    far = replace(base, constraints=replace(base.constraints, min_rate_bps=5e6))
    assert any("min_rate_bps = 5e+06 is outside the limits" in w for w in warnings(far))
    budget = replace(base, constraints=replace(base.constraints, max_total_power_mw=100.0))
    assert any("never saw max_total_power_mw" in w for w in warnings(budget))
    assert np.isfinite(planner.plan(far, candidates=2, steps=2).utility).all()
