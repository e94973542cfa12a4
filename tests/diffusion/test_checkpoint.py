"""Model folders: safetensors EMA weights + config.json; identical plans after a round trip;
corrupt or mismatched folders refused with a message that says what to do."""

import json
import shutil

import numpy as np
import pytest

from diffusion import load_model, load_planner
from tests.diffusion.conftest import small_instances
from twin.core import AignError


def test_folder_holds_safetensors_weights_and_a_config(tiny_model):
    assert (tiny_model / "model.safetensors").exists()
    cfg = json.loads((tiny_model / "config.json").read_text())
    assert cfg["format"] == "aign.diffusion" and cfg["version"] == 2
    assert cfg["scheduler"]["num_train_timesteps"] == 100
    assert cfg["graph"]["neighbours"] == 8 and cfg["features"]["radio"][0] == "sinr_db"
    assert cfg["envelope"]["users"] == [2, 3]
    assert cfg["train"]["steps_done"] == 400
    assert sorted(p.name for p in (tiny_model / "checkpoints").iterdir()) == [
        "step-200", "step-400"]  # fmt: skip


def test_save_and_load_give_identical_plans(tiny_model, tmp_path):
    inst = small_instances(1, seed=99)[0]
    load_model(tiny_model).save(tmp_path / "copy")
    a = load_planner(tiny_model).plan(inst, seed=5)
    b = load_planner(tmp_path / "copy").plan(inst, seed=5)
    assert np.array_equal(a.designs_mw, b.designs_mw)


def test_a_checkpoint_folder_loads_as_a_model(tiny_model):
    inst = small_instances(1, seed=98)[0]
    planner = load_planner(tiny_model / "checkpoints" / "step-200")
    assert planner.plan(inst, candidates=2).designs_mw.shape == (2, inst.n_users)


def test_corrupt_weights_are_refused(tiny_model, tmp_path):
    folder = shutil.copytree(tiny_model, tmp_path / "m")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(AignError, match="corrupt or truncated"):
        load_model(folder)


def test_weights_of_another_architecture_are_refused(tiny_model, tmp_path):
    folder = shutil.copytree(tiny_model, tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["denoiser"]["hidden"] = 32
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(AignError, match="do not fit the architecture"):
        load_model(folder)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(version=1), "version 1"),
    (lambda c: c.update(format="other"), "not an aign.diffusion"),
    (lambda c: c.pop("envelope"), "malformed"),
    (lambda c: c["features"].update(radio=["x"]), "other features"),
    (lambda c: c.update(design_space={"off_gap": 1.5}), "off_gap"),
    (lambda c: c.update(design_space=[0.1]), "malformed"),
])  # fmt: skip
def test_config_problems_are_refused(tiny_model, tmp_path, edit, message):
    folder = shutil.copytree(tiny_model, tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    edit(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(AignError, match=message):
        load_model(folder)


def test_a_folder_without_a_model_says_where_models_come_from(tmp_path):
    with pytest.raises(AignError, match="aign train diffusion"):
        load_model(tmp_path)


def test_a_model_without_a_design_space_reads_as_linear(tiny_model, tmp_path):
    """Models from before the design space kept linear powers: they load with no gap."""
    folder = shutil.copytree(tiny_model, tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg.pop("design_space")
    (folder / "config.json").write_text(json.dumps(cfg))
    assert load_model(folder).off_gap == 0.0
