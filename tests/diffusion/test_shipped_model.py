"""The default model that ships in models/paper (built by `make model`).

Quality figures on held-out instances are benchmarks (RESULTS.md, "Planner on the
interference graph"); here, few instances, each checked against independent truth.
"""

from pathlib import Path

import numpy as np
import pytest

from diffusion import DEFAULT_MODEL_DIR, load_planner
from evaluation.paper import held_out
from twin.api import snapshot_instance
from twin.solvers import coordinate_ascent, exhaustive


@pytest.fixture(scope="module")
def planner():
    return load_planner(DEFAULT_MODEL_DIR)


def test_fig3_from_zero_ends_at_the_exact_optimum_with_16_candidates(planner):
    instance = snapshot_instance("paper-fig3")
    optimum = exhaustive(instance).tolist()  # independent truth: [28, 31]
    ends = []
    for seed in range(5):  # the benchmark runs 20 seeds
        result = planner.plan(instance, seed=seed, candidates=16, start_mw=np.zeros(2))
        assert result.trajectories_mw[0, 0].tolist() == [0.0, 0.0]
        assert result.trajectories_mw[0, -1].tolist() == result.designs_mw[0].tolist()
        ends.append(result.designs_mw[0].tolist())
    assert all(end == optimum for end in ends), ends


@pytest.mark.parametrize("name", ["paper-20", "paper-50", "paper-80"])
def test_held_out_paper_instances_reach_coordinate_ascent(planner, name):
    # Two held-out instances (the benchmark's environment; training never used it). Each
    # must come within 1% of coordinate ascent from zero, feasible and without an envelope
    # warning: a floor against a broken model (max power is 10% below, WMMSE 1.5%). The
    # quality is the benchmarks' business: 0.9991 / 0.9988 / 0.9995 on average, worst 0.997
    # / 0.995 / 0.998 (RESULTS.md, "Planner on the interference graph"); the target is 0.999.
    for instance in held_out(name, seed=0, n=2):
        result = planner.plan(instance, candidates=16, recover_actions=False)
        reference = instance.objective(coordinate_ascent(instance, starts=1))[0]
        assert result.utility[0] >= 0.99 * reference
        assert result.violation[0] == 0 and not result.warnings


def test_a_network_far_larger_than_any_in_training_is_planned(planner):
    lo, hi = planner.model.envelope.users
    instance = held_out("scale-1000x20", seed=0, n=1, n_users=2 * hi)[0]
    result = planner.plan(instance, candidates=2, recover_actions=False)
    assert result.designs_mw.shape == (2, 2 * hi)
    assert np.isin(result.designs_mw, instance.levels_mw).all()
    reference = instance.objective(coordinate_ascent(instance, starts=1, max_sweeps=2))[0]
    # 0.970 with the shipped model at 2000 users (the linear model before it: 0.924 at 600);
    # the target is 0.99 (RESULTS.md, "Planner on the interference graph"; FPC
    # reaches about 0.6 there): a floor against a broken model, not the goal
    assert result.utility[0] >= 0.9 * reference


def test_the_model_records_how_it_was_made(planner):
    meta = planner.model.meta
    scenarios = {d["scenario"] for d in meta["dataset"]["datasets"]}
    assert {"paper-20", "paper-50", "paper-80", "default", "paper-fig3"} <= scenarios
    assert meta["train"]["steps_done"] == meta["train"]["steps"]
    lo, hi = planner.model.envelope.users
    assert lo <= 2 and hi >= 200  # fig3's 2 users up to the city district's hundreds


def test_the_shipped_model_learned_from_stage_1s_sac_explorers():
    # The paper's pipeline (issue 12): the family's episodes come from the SAC agents, the
    # expert only where they cannot go (constraints, Fig. 3); the expert-data model ships
    # beside it as the measured alternative.
    def sources(folder):
        meta = load_planner(folder).model.meta["dataset"]
        return meta, {(Path(d["path"]).name, s) for d in meta["datasets"] for s in d["sources"]}

    meta, shipped = sources(DEFAULT_MODEL_DIR)
    assert meta["best_only"] and meta["examples"] < meta["episodes_read"]
    family = {f"{s}-env{e}" for s in ("paper-20", "paper-50", "paper-80", "default",
                                      "scale-1000x20", "scale-1000x20-large")
              for e in (1, 2)}  # fmt: skip
    for folder in family:
        learned = {s for name, s in shipped if name == folder}
        assert learned == {"sac:models/sac", "sac:.model-data/explorer"}, (folder, learned)
    assert {s for name, s in shipped if name not in family} == {"coordinate"}
    _, expert = sources(DEFAULT_MODEL_DIR.parent / "paper-expert")
    assert {s for name, s in expert} == {"coordinate"}
    assert family <= {name for name, _ in expert}
