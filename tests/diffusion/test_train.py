"""Training settings: how instances are drawn, the design space a model is trained in, and
settings refused before any work starts."""

import numpy as np
import pytest
import torch

from diffusion import TrainArgs, load_model, load_planner, train_diffusion
from diffusion.train import draw_instances
from twin.core import AignError


def test_uniform_draws_ignore_size_and_weighted_draws_follow_users():
    sizes = [10, 90]
    gen = torch.Generator().manual_seed(0)
    uniform = draw_instances(sizes, 20000, 0.0, gen).numpy()
    by_users = draw_instances(sizes, 20000, 1.0, gen).numpy()
    assert abs(np.mean(uniform == 1) - 0.5) < 0.02
    assert abs(np.mean(by_users == 1) - 0.9) < 0.02  # 90 of the 100 users


def test_a_model_records_its_design_space_and_plans_in_it(small_data, tmp_path, monkeypatch):
    args = TrainArgs(data=[], out=str(tmp_path / "m"), steps=30, hidden=16, layers=1,
                     step_hidden=16, off_gap=0.2, size_weighting=1.0, step_layers=2)  # fmt: skip
    train_diffusion(args, data=small_data)
    model = load_model(tmp_path / "m")
    assert model.off_gap == 0.2 and model.config.step_layers == 2
    assert model.meta["train"]["size_weighting"] == 1.0
    # the planner samples in the model's space: what the sampler is given, and it unnormalizes
    import diffusion.planner as planner_module

    seen = {}
    real = planner_module.sample_designs

    def spy(*args, **kwargs):
        seen["off_gap"] = args[-1]
        return real(*args, **kwargs)

    monkeypatch.setattr(planner_module, "sample_designs", spy)
    inst = small_data.examples[0].instance
    result = load_planner(tmp_path / "m", recover_actions=False).plan(inst, candidates=4)
    assert seen["off_gap"] == 0.2
    assert np.isin(result.designs_mw, inst.levels_mw).all()


@pytest.mark.parametrize("field,value", [("off_gap", 1.0), ("off_gap", -0.1),
                                         ("size_weighting", float("nan")),
                                         ("size_weighting", 5.0), ("step_layers", 0)])
def test_bad_settings_are_refused_before_training(small_data, tmp_path, field, value):
    args = TrainArgs(data=[], out=str(tmp_path / "m"), steps=5, **{field: value})
    with pytest.raises(AignError, match=field):
        train_diffusion(args, data=small_data)
    assert not (tmp_path / "m").exists()
