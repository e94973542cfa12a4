"""Stage 1's episodes as the planner's examples: return labels by instance, and the filter to
each instance's best."""

import numpy as np

from diffusion import DesignData, examples_from_arrays
from diffusion.data import return_shares
from tests.diffusion.conftest import small_instances
from twin.solvers import exhaustive


def test_return_shares_compare_episodes_on_one_instance_only():
    shares = return_shares(np.array([10.0, 8.0, 5.0, 7.0]), ["a", "a", "b", "c"])
    assert shares == [1.0, 0.8, None, None]  # b and c are alone on their instances


def test_best_only_keeps_each_instances_best_and_the_episodes_alone_on_theirs():
    insts = small_instances(6, seed=3)
    best = [exhaustive(i) for i in insts]
    worse = [np.clip(b - 8.0, 0.0, 40.0) for b in best]
    # instances 0-3 twice (best and worse, listed worse first for 0-1), 4-5 once (worse)
    designs = worse[:2] + best[:4] + worse[2:4] + worse[4:]
    owners = [0, 1, 0, 1, 2, 3, 2, 3, 4, 5]
    examples = examples_from_arrays([insts[k] for k in owners], designs, groups=owners)
    data = DesignData(examples, {"fixture": "test"})
    kept = data.best_only()
    assert len(kept) == 6 and kept.provenance["best_only"]
    assert kept.provenance["episodes_read"] == 10
    utilities = {id(e.instance): e.instance.objective(e.design_mw)[0] for e in kept.examples}
    for k in range(4):  # the exact optimum survives on every instance that had two episodes
        assert utilities[id(insts[k])] == insts[k].objective(best[k])[0]
    for k in (4, 5):  # alone: kept, whatever its quality
        assert utilities[id(insts[k])] == insts[k].objective(worse[k])[0]
