"""Self-improvement rounds: the planner's designs replace the data's only where the twin
measures them better, and never where the data already holds the exact optimum."""

import numpy as np

from diffusion import DesignData, examples_from_arrays, load_model
from diffusion.improve import improve_designs
from tests.diffusion.conftest import small_instances
from twin.solvers import exhaustive


def test_a_round_replaces_only_designs_the_twin_scores_lower(tiny_model):
    insts = small_instances(12, seed=21)
    optima = [exhaustive(i) for i in insts]
    poor = [np.zeros_like(o) + 1.0 for o in optima[6:]]  # 1 mW each: far from the optimum
    data = DesignData(examples_from_arrays(insts, optima[:6] + poor), {"fixture": "test"})
    improved, report = improve_designs(load_model(tiny_model), data, candidates=8, seed=0)
    assert report.examples == 12 and data.provenance == {"fixture": "test"}
    for before, after in zip(data.examples, improved.examples, strict=True):
        u_before = before.instance.objective(before.design_mw)[0]
        u_after = after.instance.objective(after.design_mw)[0]
        assert u_after >= u_before
    # the exact optima stay (nothing beats them), the poor designs are replaced
    assert all(a is b for a, b in zip(improved.examples[:6], data.examples[:6], strict=True))
    assert report.improved == 6 and report.mean_gain > 0
    assert all(e.source.endswith("+planner") for e in improved.examples[6:])
    assert improved.provenance["improvement_rounds"] == [report.to_dict()]
    again, _ = improve_designs(load_model(tiny_model), data, candidates=8, seed=0)
    assert all(np.array_equal(a.design_mw, b.design_mw)
               for a, b in zip(again.examples, improved.examples, strict=True))  # fmt: skip


def test_training_with_a_round_records_what_it_improved(small_data, tmp_path):
    from diffusion import TrainArgs, train_diffusion

    args = TrainArgs(data=[], out=str(tmp_path / "m"), steps=40, hidden=16, layers=1,
                     step_hidden=16, improve_rounds=1, improve_candidates=4)  # fmt: skip
    report = train_diffusion(args, data=small_data)
    rounds = report.model.meta["dataset"]["improvement_rounds"]
    assert len(rounds) == 1 and rounds[0]["examples"] == len(small_data)
    assert load_model(tmp_path / "m").meta["train"]["improve_rounds"] == 1
