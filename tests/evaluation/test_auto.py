"""The auto generator: the frontier method for the size and budget, run as measured."""

import json

import numpy as np
import pytest

from evaluation.auto import auto_design, load_frontier, run_spec
from evaluation.paper import held_out
from twin.core import AignError
from twin.solvers import coordinate_ascent, fractional_power_control


def table(users=20):
    front = [
        {"method": "FPC", "spec": "fpc", "learned": False, "seconds": 1e-4,
         "quality_mean": 0.9, "quality_worst": 0.8},
        {"method": "coordinate, 1 sweep", "spec": "coordinate:starts=1,max_sweeps=1",
         "learned": False, "seconds": 5e-3, "quality_mean": 0.99, "quality_worst": 0.98},
    ]  # fmt: skip
    return {"cases": [{"case": f"paper-{users}", "users": users, "off_distribution": False,
                       "frontier": front}]}  # fmt: skip


def test_auto_runs_the_best_method_that_fits_and_its_design_is_that_methods():
    inst = held_out("paper-20", 0, 1)[0]
    slow = auto_design(inst, 0.01, table())
    assert slow.method == "coordinate, 1 sweep" and slow.case == "paper-20"
    assert np.array_equal(slow.design.power_mw, coordinate_ascent(inst, starts=1, max_sweeps=1))
    fast = auto_design(inst, 1e-3, table())
    assert fast.method == "FPC"
    assert np.array_equal(fast.design.power_mw, fractional_power_control(inst))
    assert fast.design.provenance["auto_method"] == "FPC" and fast.seconds > 0


def test_a_spec_nobody_knows_is_refused():
    inst = held_out("paper-20", 0, 1)[0]
    with pytest.raises(AignError):
        run_spec(inst, "nosuch:1")


def test_a_file_that_is_not_a_frontier_table_is_refused(tmp_path):
    bad = tmp_path / "f.json"
    bad.write_text(json.dumps({"cases": [{"users": 1}]}))
    with pytest.raises(AignError, match="not a frontier table"):
        load_frontier(bad)
    bad.write_text("{")
    with pytest.raises(AignError):
        load_frontier(bad)


def test_the_shipped_table_covers_every_measured_size():
    shipped = load_frontier()
    sizes = {c["users"] for c in shipped["cases"] if not c["off_distribution"]}
    assert {20, 50, 80, 200, 1000, 10000} <= sizes
    assert all(c["frontier"] for c in shipped["cases"])


def test_a_learned_method_is_loaded_once_and_its_loading_is_not_the_designs_time():
    from agents.controllers import load_agent, rollout
    from agents.mdp import initial_power

    inst = held_out("paper-20", 0, 1)[0]
    front = [{"method": "SAC", "spec": "sac:models/sac", "learned": True, "seconds": 1e-3,
              "quality_mean": 0.99, "quality_worst": 0.98}]  # fmt: skip
    learned = {"cases": [{"case": "paper-20", "users": 20, "off_distribution": False,
                          "frontier": front}]}  # fmt: skip
    import evaluation.auto

    evaluation.auto._agent.cache_clear()  # whatever loaded it earlier in this process
    first = auto_design(inst, 1.0, learned)
    again = auto_design(inst, 1.0, learned)
    expected = rollout(load_agent("sac", "models/sac"), inst, initial_power(inst))
    assert np.array_equal(first.design.power_mw, expected)
    assert np.array_equal(again.design.power_mw, expected)
    assert again.load_seconds < first.load_seconds and again.load_seconds < 0.01
    assert first.to_dict()["load_seconds"] == first.load_seconds
