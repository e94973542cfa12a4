"""The planner: reaches the paper's Fig. 3 optimum, ranks on the twin, is a controller."""

import numpy as np
import pytest

from agents.dataset import TrajectoryDataset
from diffusion import PlannerController, diffusion_controller
from diffusion.planner import default_candidates
from tests.diffusion.conftest import FIG3_OPTIMUM_MW, FIG3_OPTIMUM_UTILITY
from twin.controllers import Controller, Observation
from twin.core.errors import AignError
from twin.radio.instance import Design, ProblemInstance
from twin.scenario.loader import load_scenario
from twin.sim.twin import Twin
from twin.solvers import exhaustive


def test_tiny_training_run_reaches_within_1_percent_of_the_fig3_optimum(
    fig3_planner, fig3_instance
):
    assert exhaustive(fig3_instance).tolist() == FIG3_OPTIMUM_MW  # independent truth
    result = fig3_planner.plan(fig3_instance)
    assert result.best.predicted["utility"] >= 0.99 * FIG3_OPTIMUM_UTILITY
    assert result.trajectories_mw[0, 0].tolist() == [0.0, 0.0]  # from (0, 0)
    end = result.trajectories_mw[0, -1]
    utility, _ = fig3_instance.objective(end)
    assert end.tolist() == FIG3_OPTIMUM_MW or utility >= 0.99 * FIG3_OPTIMUM_UTILITY


def test_candidates_are_ranked_on_the_twin_best_first(fig3_planner, fig3_instance):
    result = fig3_planner.plan(fig3_instance, candidates=8)
    assert len(result.designs) == 8 and result.trajectories_mw.shape == (8, 9, 2)
    assert np.all(np.diff(result.utility) <= 0)  # no constraints: utility decides
    u, v = fig3_instance.objective(result.trajectories_mw[:, -1])
    assert u.tolist() == result.utility.tolist() and v.tolist() == result.violation.tolist()


def test_ranking_breaks_ties_between_equal_designs_by_the_trajectory_return():
    from diffusion.planner import _rank

    utility = np.array([1.0, 2.0, 2.0, 2.0])
    violation = np.array([0.0, 0.5, 0.0, 0.0])
    returns = np.array([9.0, 9.0, 3.0, 5.0])
    # least violation, then utility, then return: [3] reaches the same design sooner than [2]
    assert _rank(utility, violation, returns).tolist() == [3, 2, 0, 1]


def test_designs_carry_their_provenance(fig3_planner, fig3_instance):
    best = fig3_planner.plan(fig3_instance, seed=3, guidance_weight=2.0, candidates=4).best
    assert isinstance(best, Design) and best.source == "diffusion"
    prov = best.provenance
    assert prov["seed"] == 3 and prov["guidance_weight"] == 2.0 and prov["candidates"] == 4
    assert prov["instance"] == fig3_instance.fingerprint() and prov["model"]
    assert best.predicted["utility"] == pytest.approx(fig3_instance.evaluate(best.power_mw).utility)


def test_default_candidates_spend_the_80_user_budget_on_smaller_instances(
    fig3_planner, fig3_instance
):
    assert [default_candidates(n) for n in (80, 50, 20, 2, 1)] == [16, 25, 64, 640, 1280]
    result = fig3_planner.plan(fig3_instance, recover_actions=False)
    assert len(result.utility) == 640 and result.best.provenance["candidates"] == 640


def test_recovered_actions_replay_to_the_generated_states_when_steps_allow(
    fig3_planner, fig3_instance
):
    from agents.mdp import next_power

    result = fig3_planner.plan(fig3_instance, candidates=4)
    config = fig3_planner.model.mdp
    for c in range(4):
        p = result.trajectories_mw[c, 0]
        for t in range(config.horizon):
            p = next_power(fig3_instance, p, result.actions[c, t], config)
            assert np.array_equal(p, result.realized_mw[c, t + 1])
        reachable = np.array_equal(result.realized_mw[c, -1], result.trajectories_mw[c, -1])
        assert result.designs[c].provenance["reachable_in_horizon"] == reachable


def test_same_seed_gives_identical_designs(fig3_planner, fig3_instance):
    a, b = (fig3_planner.plan(fig3_instance, seed=11) for _ in range(2))
    assert [d.power_mw.tolist() for d in a.designs] == [d.power_mw.tolist() for d in b.designs]


def test_planner_controller_obeys_the_controller_protocol(fig3_planner, fig3_instance):
    controller = PlannerController(fig3_planner)
    assert isinstance(controller, Controller)
    controller.reset(fig3_instance)
    power = controller.decide(Observation(0.0, fig3_instance, np.zeros(2)))
    assert power.shape == (2,) and set(power.tolist()) <= set(fig3_instance.levels_mw.tolist())


def test_the_twin_runs_with_the_planner_as_controller(fig3_planner):
    twin = Twin(load_scenario("paper-fig3"), PlannerController(fig3_planner))
    log = twin.run()
    assert set(twin.power_mw.tolist()) <= set(range(41))
    assert np.isfinite(log.column("utility")).all()


def test_an_instance_with_more_users_than_the_model_is_refused(fig3_planner):
    three = ProblemInstance(gains=np.full((3, 1), 1e-12), assoc=np.zeros(3, int),
                            noise_mw=1e-10, bandwidth_hz=1e6, levels_mw=np.arange(41.0),
                            price=0.0225)  # fmt: skip
    with pytest.raises(AignError, match="3 users.*at most 2"):
        PlannerController(fig3_planner).reset(three)
    with pytest.raises(AignError, match="at most 2"):
        fig3_planner.plan(three)


def test_controller_spec_builds_a_planner_with_its_settings(fig3_model):
    controller = diffusion_controller(f"{fig3_model},candidates=4,w=2,seed=9,refine=2")
    assert isinstance(controller, Controller)
    s = controller.planner.settings
    assert (s.candidates, s.guidance_weight, s.seed, s.refine) == (4, 2.0, 9, 2)
    with pytest.raises(AignError, match="folder"):
        diffusion_controller("")
    with pytest.raises(AignError, match="candidates="):
        diffusion_controller(f"{fig3_model},k=4")


def test_invalid_settings_are_refused(fig3_planner, fig3_instance):
    with pytest.raises(AignError, match="candidates"):
        fig3_planner.plan(fig3_instance, candidates=0)
    with pytest.raises(AignError, match="guidance_weight"):
        fig3_planner.plan(fig3_instance, guidance_weight=-1.0)
    with pytest.raises(AignError, match="refine must be >= 0"):
        fig3_planner.plan(fig3_instance, refine=-1)
    with pytest.raises(AignError, match="at most 100"):
        fig3_planner.plan(fig3_instance, steps=500)
    with pytest.raises(AignError, match="2 users"):
        fig3_planner.plan(fig3_instance, start_mw=[0.0, 0.0, 0.0])
    with pytest.raises(AignError, match="unexpected keyword"):
        fig3_planner.plan(fig3_instance, k=3)


def test_the_dataset_instance_is_the_fig3_instance(fig3_data, fig3_instance):
    ds = TrajectoryDataset.load(fig3_data)
    assert ds["final_utility"].max() == pytest.approx(FIG3_OPTIMUM_UTILITY, abs=1e-4)
    assert fig3_instance.gains.ravel().tolist() == [1.4e-12, 1.0e-12]


def test_plan_result_writes_designs_that_load_designs_reads(fig3_planner, fig3_instance, tmp_path):
    from twin.core.files import write_json_atomic
    from twin.radio.instance import load_designs

    result = fig3_planner.plan(fig3_instance, candidates=3)
    write_json_atomic(tmp_path / "plan.json", result.to_dict())
    designs = load_designs(tmp_path / "plan.json")
    assert [d.power_mw.tolist() for d in designs] == [d.power_mw.tolist() for d in result.designs]


def test_refinement_polishes_the_best_candidates_on_the_twin_and_never_worsens_them(
    fig3_planner, fig3_instance
):
    from dataclasses import replace

    from twin.radio.uplink import Constraints
    from twin.solvers import coordinate_ascent, is_better

    # a 30 mW budget binds: the unconstrained optimum (28, 31) spends 59 mW
    tight = replace(fig3_instance, constraints=Constraints(max_total_power_mw=30.0))
    plain = fig3_planner.plan(tight, candidates=8, steps=3, seed=4, recover_actions=False)
    polished = fig3_planner.plan(tight, candidates=8, steps=3, seed=4, refine=3,
                                 recover_actions=False)  # fmt: skip
    assert plain.refined is None and polished.refined is not None
    # the best design is at least as good as without refinement, and is a coordinate-ascent
    # fixed point when it was refined (no single user can improve it)
    u0, v0 = plain.utility[0], plain.violation[0]
    u1, v1 = polished.utility[0], polished.violation[0]
    assert (u1, v1) == (u0, v0) or is_better(u1, v1, u0, v0)
    assert polished.violation[0] == 0.0 and sum(polished.best.power_mw) <= 30.0
    refined = [d for d in polished.designs if d.provenance["refined"]]
    assert 0 < len(refined) <= 3
    for design in refined:
        fixed = coordinate_ascent(tight, starts=1, init=design.power_mw)
        assert np.array_equal(fixed, design.power_mw)
    # untouched candidates keep their sampled designs, the same as without refinement
    untouched = {tuple(d.power_mw) for d in polished.designs if not d.provenance["refined"]}
    assert untouched <= {tuple(d.power_mw) for d in plain.designs}
    assert polished.to_dict()["refined"] == [d.provenance["refined"] for d in polished.designs]
