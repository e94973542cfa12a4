"""Stage-2 commands end to end: train diffusion, plan (auto or the planner; scenario or
instance), controller."""

import json

import pytest

from tests.ui.cli_run import run
from ui.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from agents.collect import CollectArgs, collect

    data = tmp_path_factory.mktemp("data")
    for policy in ("coordinate", "noisy:coordinate,sigma=0.5"):
        collect(CollectArgs("paper-fig3", policy, episodes=32, out=str(data), batch=16,
                            formulation="per-user"))  # fmt: skip
    out = tmp_path_factory.mktemp("model")
    assert (
        main(
            [
                "train",
                "diffusion",
                "--data",
                str(data),
                "--steps",
                "600",
                "--off-gap",
                "0.2",
                "--size-weighting",
                "0.5",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    return out


def test_train_records_the_design_space_and_the_draws_it_was_given(model):
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["design_space"] == {"off_gap": 0.2}
    assert cfg["train"]["size_weighting"] == 0.5 and cfg["denoiser"]["step_layers"] == 1


@pytest.mark.parametrize("flag,value", [("--size-weighting", "nan"), ("--off-gap", "1"),
                                        ("--step-layers", "0")])  # fmt: skip
def test_train_refuses_bad_settings_with_a_clear_error(capsys, tmp_path, flag, value):
    (tmp_path / "data").mkdir()
    code, out, err = run(capsys, "train", "diffusion", "--data", str(tmp_path / "data"), flag,
                         value, "--out", str(tmp_path / "m"), "--quiet")  # fmt: skip
    assert code == 1 and flag[2:].replace("-", "_") in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_plan_on_fig3_reports_candidates_trajectories_and_the_gap(capsys, tmp_path, model):
    out = tmp_path / "designs.json"
    code, _, _ = run(capsys, "plan", "paper-fig3", "--generator", "diffusion", "--model",
                     str(model), "--out", str(out))  # fmt: skip
    data = json.loads(out.read_text())
    assert code == 0 and len(data["designs"]) == 16  # the default K
    best = data["designs"][0]
    assert data["reference"]["power_mw"] == [28.0, 31.0]
    assert best["predicted"]["utility"] >= 0.99 * 24.0922
    assert best["predicted"]["gap_to_reference"] <= 0.01
    assert len(data["trajectories_mw"][0]) == 9  # horizon 8: nine states from (0, 0)
    assert data["trajectories_mw"][0][0] == [0.0, 0.0]


def test_plan_takes_an_instance_and_warns_about_a_budget_it_never_saw(capsys, tmp_path, model):
    inst = tmp_path / "inst.json"
    assert run(capsys, "instance", "paper-fig3", "--out", str(inst))[0] == 0
    code, out, err = run(capsys, "plan", str(inst), "--generator", "diffusion", "--model",
                         str(model), "--max-total-power", "40", "--json")  # fmt: skip
    data = json.loads(out)  # --json: stdout is the JSON alone, the summary on stderr
    assert "candidates in" in err
    assert code == (0 if data["designs"][0]["predicted"]["feasible"] else 3)
    assert any("never saw a budget constraint" in w for w in data["warnings"])
    assert "warning: the model never saw a budget constraint" in err
    best = data["designs"][0]
    # the design's status says the truth: feasible only if the budget really holds
    assert best["predicted"]["feasible"] == (sum(best["power_mw"]) <= 40)
    if not best["predicted"]["feasible"]:
        assert any("no candidate satisfies" in w for w in data["warnings"])


def test_plan_prints_a_summary_not_json_and_an_infeasible_best_is_exit_3(capsys, model):
    code, out, err = run(capsys, "plan", "paper-fig3", "--generator", "diffusion", "--model",
                         str(model), "--candidates", "4", "--max-total-power", "20")  # fmt: skip
    assert len(out.strip().splitlines()) == 1 and not out.lstrip().startswith("{")
    if code == 3:
        assert "INFEASIBLE: no candidate meets the constraints (it spends" in out
        assert "over the budget 20 mW" in out and "--refine" in out
    else:
        assert code == 0 and "it meets every constraint" in out


def test_plan_refine_polishes_candidates_to_meet_a_binding_budget(capsys, tmp_path, model):
    out = tmp_path / "refined.json"
    code, _, _ = run(capsys, "plan", "paper-fig3", "--generator", "diffusion", "--model",
                     str(model), "--candidates", "8",
                     "--max-total-power", "30", "--refine", "2", "--out", str(out))  # fmt: skip
    data = json.loads(out.read_text())
    best = data["designs"][0]
    assert code == 0 and best["predicted"]["feasible"] and sum(best["power_mw"]) <= 30
    assert sum(data["refined"]) <= 2 and best["provenance"]["refine"] == 2
    assert not any("no candidate satisfies" in w for w in data["warnings"])


def test_the_planner_is_a_controller_the_twin_runs(capsys, model):
    code, out, _ = run(
        capsys, "simulate", "paper-fig3", "--controller", f"diffusion:{model}", "--json", "--quiet"
    )
    assert code == 0 and json.loads(out)["mean_utility"] >= 0.99 * 24.0922


def test_plan_takes_a_network_larger_than_any_in_training_and_says_so(capsys, tmp_path, model):
    out = tmp_path / "default.json"
    code, _, err = run(capsys, "plan", "default", "--generator", "diffusion", "--model",
                       str(model), "--candidates", "2", "--out", str(out))  # fmt: skip
    data = json.loads(out.read_text())
    assert code == 0 and len(data["designs"][0]["power_mw"]) == 20
    assert "20 users: the model was trained on 2-2 users" in err


def test_plan_auto_runs_the_frontier_method_for_the_size_and_budget(capsys, tmp_path):
    from evaluation.auto import load_frontier
    from evaluation.pareto import choose_method

    out = tmp_path / "auto.json"
    code, stdout, _ = run(capsys, "plan", "paper-20", "--time-budget", "0.05", "--out", str(out))
    data = json.loads(out.read_text())
    chosen = choose_method(load_frontier(), 20, 0.05)
    assert code == 0 and data["choice"]["method"] == chosen["method"]
    assert f"auto chose {chosen['method']}" in stdout
    design = data["designs"][0]
    ref_u = data["reference"]["predicted"]["utility"]
    gap = (ref_u - design["predicted"]["utility"]) / ref_u
    assert abs(design["predicted"]["gap_to_reference"] - gap) < 1e-12
    assert design["provenance"]["generator"] == "auto" and design["provenance"]["seconds"] > 0


def test_plan_auto_refuses_planner_flags_and_says_which(capsys):
    code, _, err = run(capsys, "plan", "paper-20", "--candidates", "4", "--refine", "1")
    assert code == 1 and "--candidates, --refine: for the diffusion planner" in err


def test_plan_without_a_model_folder_is_a_clear_error(capsys, tmp_path):
    code, _, err = run(capsys, "plan", "paper-fig3", "--generator", "diffusion", "--model",
                       str(tmp_path / "none"))  # fmt: skip
    assert code == 1 and "Traceback" not in err and err.strip()


def test_plan_without_model_and_without_the_shipped_one_says_how_to_build_it(
    capsys, tmp_path, monkeypatch
):
    import diffusion.checkpoint

    monkeypatch.setattr(diffusion.checkpoint, "DEFAULT_MODEL_DIR", tmp_path / "missing")
    code, _, err = run(capsys, "plan", "paper-fig3", "--generator", "diffusion")
    assert code == 1 and "make model" in err
