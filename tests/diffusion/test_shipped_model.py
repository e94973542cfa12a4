"""The default model that ships in models/paper (built by `make model`)."""

import numpy as np
import pytest

from diffusion import DEFAULT_MODEL_DIR, load_planner
from twin.api import snapshot_instance
from twin.solvers import best_reference


@pytest.fixture(scope="module")
def planner():
    return load_planner(DEFAULT_MODEL_DIR)


def test_fig3_trajectory_from_zero_ends_at_the_optimum_within_1_percent(planner):
    result = planner.plan(snapshot_instance("paper-fig3"))
    assert result.trajectories_mw[0, 0].tolist() == [0.0, 0.0]
    assert result.best.predicted["utility"] >= 0.99 * 24.0922
    assert np.abs(result.trajectories_mw[0, -1] - [28, 31]).max() <= 3


@pytest.mark.parametrize("name", ["paper-20", "paper-50", "paper-80"])
def test_paper_instances_come_close_to_the_best_reference(planner, name):
    instance = snapshot_instance(name)
    result = planner.plan(instance)
    reference = best_reference(instance).predicted["utility"]
    # benchmark goal: 99% (measured 99.3-99.8% here); a little slack for other CPUs' floats
    assert result.best.predicted["utility"] >= 0.985 * reference
    assert result.best.predicted["feasible"] and not result.warnings


def test_the_model_records_how_it_was_made(planner):
    meta = planner.model.meta
    scenarios = {d["scenario"] for d in meta["dataset"]["datasets"]}
    assert {"paper-20", "paper-fig3"} <= scenarios
    assert meta["train"]["steps_done"] == meta["train"]["steps"]
