"""Model folders: safetensors EMA weights + config.json; identical samples after a round trip;
corrupt or mismatched folders refused with a message that says what to do."""

import json
import shutil

import numpy as np
import pytest

from diffusion import load_model, load_planner
from twin.core.errors import AignError


def test_folder_holds_safetensors_weights_and_a_config(fig3_model):
    assert (fig3_model / "model.safetensors").exists()
    cfg = json.loads((fig3_model / "config.json").read_text())
    assert cfg["format"] == "aign.diffusion" and cfg["denoiser"]["kind"] == "transformer"
    assert cfg["scheduler"]["num_train_timesteps"] == 100
    assert cfg["normalizer"] == {"p_max_mw": 40.0}
    assert cfg["mdp"]["max_users"] == 2
    assert cfg["conditioning"]["goal_groups"]["return"] == 1
    assert cfg["dataset"]["episodes"] == 80
    assert sorted(p.name for p in (fig3_model / "checkpoints").iterdir()) == [
        "step-300", "step-600"]  # fmt: skip


def test_save_and_load_give_identical_samples(fig3_model, fig3_instance, tmp_path):
    model = load_model(fig3_model)
    model.save(tmp_path / "copy")
    a = load_planner(fig3_model).plan(fig3_instance, seed=5)
    b = load_planner(tmp_path / "copy").plan(fig3_instance, seed=5)
    assert np.array_equal(a.trajectories_mw, b.trajectories_mw)
    assert a.best.power_mw.tolist() == b.best.power_mw.tolist()


def test_a_checkpoint_folder_loads_as_a_model(fig3_model, fig3_instance):
    planner = load_planner(fig3_model / "checkpoints" / "step-300")
    assert planner.plan(fig3_instance, candidates=2).trajectories_mw.shape == (2, 9, 2)


def test_corrupt_weights_are_refused(fig3_model, tmp_path):
    folder = shutil.copytree(fig3_model, tmp_path / "m")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(AignError, match="corrupt or truncated"):
        load_model(folder)


def test_weights_of_another_architecture_are_refused(fig3_model, tmp_path):
    folder = shutil.copytree(fig3_model, tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["denoiser"]["width"] = 32
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(AignError, match="do not fit the architecture"):
        load_model(folder)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(version=99), "version 99"),
    (lambda c: c.update(format="other"), "not an aign.diffusion"),
    (lambda c: c.pop("mdp"), "malformed"),
    (lambda c: c["conditioning"].update(user_features=["x"]), "other condition features"),
])  # fmt: skip
def test_config_problems_are_refused(fig3_model, tmp_path, edit, message):
    folder = shutil.copytree(fig3_model, tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    edit(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(AignError, match=message):
        load_model(folder)


def test_a_folder_without_a_model_says_where_models_come_from(tmp_path):
    with pytest.raises(AignError, match="aign train diffusion"):
        load_model(tmp_path)
