"""The planner: near the optimum on held-out small instances, ranks on the twin, a controller."""

import numpy as np
import pytest

from diffusion import (
    PlannerController,
    TrainArgs,
    default_candidates,
    diffusion_controller,
    load_planner,
    train_diffusion,
)
from tests.diffusion.conftest import FIG3_OPTIMUM_MW, FIG3_OPTIMUM_UTILITY, small_instances
from twin.api import snapshot_instance
from twin.controllers import Controller, Observation
from twin.core import AignError
from twin.radio import Constraints, Design
from twin.scenario import load_scenario
from twin.sim import Twin
from twin.solvers import exhaustive


def test_tiny_model_plans_within_1_percent_of_the_exact_optimum_on_held_out_instances(
    tiny_planner,
):
    for inst in small_instances(6, seed=123):  # never trained on (other seed)
        best = exhaustive(inst)
        u_best = float(inst.objective(best)[0])
        result = tiny_planner.plan(inst)
        assert result.utility[0] >= 0.99 * u_best


def test_fig3_plan_is_near_the_optimum_and_its_trajectory_starts_at_zero(tiny_planner):
    inst = snapshot_instance("paper-fig3")
    assert exhaustive(inst).tolist() == FIG3_OPTIMUM_MW  # independent truth
    result = tiny_planner.plan(inst)
    assert result.utility[0] >= 0.99 * FIG3_OPTIMUM_UTILITY
    traj = result.trajectories_mw[0]
    assert traj[0].tolist() == [0.0, 0.0] and traj[-1].tolist() == result.designs_mw[0].tolist()
    steps = np.abs(np.diff(traj, axis=0))
    assert steps.max() <= 0.25 * 40.0  # the MDP's step: at most a quarter of the top level


def test_candidates_are_ranked_on_the_twin_best_first(tiny_planner):
    inst = small_instances(1, seed=7)[0]
    result = tiny_planner.plan(inst, candidates=8)
    assert result.designs_mw.shape == (8, inst.n_users) and len(result.designs) == 8
    assert np.all(np.diff(result.utility) <= 0)  # no constraints: utility decides
    u, v = inst.objective(result.designs_mw)
    assert u.tolist() == result.utility.tolist() and v.tolist() == result.violation.tolist()
    assert set(np.unique(result.designs_mw)) <= set(inst.levels_mw)  # snapped to levels


def test_ranking_puts_feasible_designs_first_then_utility():
    from diffusion.planner import _rank

    utility = np.array([5.0, 9.0, 7.0, 7.0])
    violation = np.array([0.0, 0.5, 0.0, 0.0])
    assert _rank(utility, violation).tolist() == [2, 3, 0, 1]  # ties to the earlier candidate


def test_the_same_seed_gives_the_same_plan_and_another_seed_another(tiny_planner):
    inst = small_instances(1, seed=8)[0]
    a, b = tiny_planner.plan(inst, seed=1), tiny_planner.plan(inst, seed=1)
    assert np.array_equal(a.designs_mw, b.designs_mw)
    c = tiny_planner.plan(inst, seed=2, candidates=16)
    assert c.order is not None and len(c.order) == 16


def test_designs_carry_their_provenance(tiny_planner):
    inst = small_instances(1, seed=9)[0]
    best = tiny_planner.plan(inst, seed=3, guidance_weight=2.0, candidates=4).best
    assert isinstance(best, Design) and best.source == "diffusion"
    prov = best.provenance
    assert prov["seed"] == 3 and prov["guidance_weight"] == 2.0 and prov["candidates"] == 4
    assert prov["instance"] == inst.fingerprint() and prov["model"] and prov["rank"] == 0
    assert best.predicted["utility"] == pytest.approx(inst.evaluate(best.power_mw).utility)


def test_default_candidates_shrink_only_on_very_large_networks():
    assert default_candidates(2, 1) == 16 and default_candidates(80, 9) == 16
    assert default_candidates(1000, 20) == 16 and default_candidates(10_000, 100) == 4


def test_refinement_never_makes_the_best_design_worse_and_is_marked(tiny_planner):
    inst = small_instances(1, seed=10)[0]
    plain = tiny_planner.plan(inst, seed=0)
    refined = tiny_planner.plan(inst, seed=0, refine=2)
    assert refined.utility[0] >= plain.utility[0] - 1e-9
    assert refined.refined is not None and "refined" in refined.best.provenance


def test_a_constraint_the_model_never_saw_is_warned_about(tiny_planner):
    inst = small_instances(1, seed=11)[0]
    import dataclasses

    capped = dataclasses.replace(inst, constraints=Constraints(max_total_power_mw=30.0))
    result = tiny_planner.plan(capped)
    assert any("never saw a budget constraint" in w for w in result.warnings)


def test_an_instance_outside_the_training_envelope_is_warned_about(tiny_planner):
    inst = snapshot_instance("paper-50")  # 9 sites, 50 users: the tiny model saw 2-3 users
    result = tiny_planner.plan(inst, candidates=2)
    assert any("50 users" in w for w in result.warnings)
    assert any("outside the trained range" in w for w in result.warnings)


def test_bad_settings_are_refused(tiny_planner):
    inst = small_instances(1, seed=12)[0]
    for bad in ({"candidates": 0}, {"steps": 0}, {"guidance_weight": -1}, {"refine": -1},
                {"steps": 1000}, {"target_return": 0}):  # fmt: skip
        with pytest.raises(AignError):
            tiny_planner.plan(inst, **bad)


def test_composed_guidance_runs_and_returns_ranked_designs(tiny_planner):
    inst = small_instances(1, seed=13)[0]
    import dataclasses

    both = dataclasses.replace(inst, constraints=Constraints(min_rate_bps=1e5,
                                                             max_total_power_mw=50.0))
    result = tiny_planner.plan(both, compose=True, guidance_weight=1.5, candidates=4)
    assert np.all(np.diff(result.violation) >= 0)


def test_the_planner_is_a_controller_on_the_twin(tiny_model):
    controller = diffusion_controller(f"{tiny_model},candidates=4,steps=3,seed=2")
    assert isinstance(controller, PlannerController) and isinstance(controller, Controller)
    scenario = load_scenario("paper-fig3")
    twin = Twin(scenario, controller=controller, seed=0)
    twin.run(until_s=1.0)
    assert controller.last is not None and controller.last.provenance["seed"] >= 2
    inst = snapshot_instance("paper-fig3")
    power = controller.decide(Observation(0.0, inst, np.zeros(2)))
    assert power.shape == (2,)


@pytest.mark.parametrize("spec, message", [
    ("{m},k=3", "is not one of"),
    ("{m},steps=x", "must be a number"),
])  # fmt: skip
def test_bad_controller_specs_are_refused(tiny_model, spec, message):
    with pytest.raises(AignError, match=message):
        diffusion_controller(spec.format(m=tiny_model))


def test_a_model_that_learned_no_return_is_not_asked_for_one(
    small_data, tiny_model, tmp_path, monkeypatch
):
    # --best-only drops the return labels (every kept one reads 1); the planner then samples
    # without a return goal, so the target return changes nothing. The tiny model learned
    # one, and is asked for it.
    out = tmp_path / "best-only"
    train_diffusion(TrainArgs(data=[], out=str(out), steps=60, hidden=16, layers=1,
                              step_hidden=16, best_only=True), data=small_data)  # fmt: skip
    import diffusion.planner as planner_module

    goals = []
    sample = planner_module.sample_designs
    monkeypatch.setattr(planner_module, "sample_designs",
                        lambda model, sched, graph, goal, *a: goals.append(goal) or
                        sample(model, sched, graph, goal, *a))  # fmt: skip
    instance = small_instances(1, seed=5)[0]
    for folder, learned in ((out, False), (tiny_model, True)):
        planner = load_planner(folder, candidates=4, recover_actions=False)
        assert (planner.model.envelope.goals["return"] is not None) == learned
        high = planner.plan(instance, target_return=1.0).designs_mw
        low = planner.plan(instance, target_return=0.5).designs_mw
        assert [g[0] for g in goals[-2:]] == [float(learned)] * 2
        assert [g[1] for g in goals[-2:]] == ([1.0, 0.5] if learned else [0.0, 0.0])
        if not learned:
            assert np.array_equal(high, low)
