"""Stage-2 commands end to end: train diffusion, plan (scenario or instance), controller."""

import json

import pytest

from diffusion.planner import default_candidates
from tests.ui.cli_run import run
from ui.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from agents.collect import CollectArgs, collect

    data = tmp_path_factory.mktemp("data")
    for policy in ("coordinate", "noisy:coordinate,sigma=0.5", "random"):
        collect(CollectArgs("paper-fig3", policy, episodes=32, out=str(data), batch=16))
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
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    return out


def test_plan_on_fig3_reports_candidates_trajectories_and_the_gap(capsys, tmp_path, model):
    out = tmp_path / "designs.json"
    code, _, _ = run(capsys, "plan", "paper-fig3", "--model", str(model), "--out", str(out))
    data = json.loads(out.read_text())
    assert code == 0 and len(data["designs"]) == default_candidates(2)  # K by size: 640
    best = data["designs"][0]
    assert data["reference"]["power_mw"] == [28.0, 31.0]
    assert best["predicted"]["utility"] >= 0.99 * 24.0922
    assert best["predicted"]["gap_to_reference"] <= 0.01
    assert len(data["trajectories_mw"][0]) == 9  # horizon 8: nine states from (0, 0)
    assert data["trajectories_mw"][0][0] == [0.0, 0.0]


def test_plan_takes_an_instance_and_warns_about_a_budget_it_never_saw(capsys, tmp_path, model):
    inst = tmp_path / "inst.json"
    assert run(capsys, "instance", "paper-fig3", "--out", str(inst))[0] == 0
    code, out, err = run(
        capsys, "plan", str(inst), "--model", str(model), "--max-total-power", "40", "--json"
    )
    data = json.loads(out)  # --json: stdout is the JSON alone, the summary on stderr
    assert "candidates in" in err
    assert code == (0 if data["designs"][0]["predicted"]["feasible"] else 3)
    assert any("never saw max_total_power_mw" in w for w in data["warnings"])
    assert "warning: the model never saw max_total_power_mw" in err
    best = data["designs"][0]
    # the design's status says the truth: feasible only if the budget really holds
    assert best["predicted"]["feasible"] == (sum(best["power_mw"]) <= 40)
    if not best["predicted"]["feasible"]:
        assert any("no candidate satisfies" in w for w in data["warnings"])


def test_plan_prints_a_summary_not_json_and_an_infeasible_best_is_exit_3(capsys, model):
    code, out, err = run(capsys, "plan", "paper-fig3", "--model", str(model), "--candidates",
                         "4", "--max-total-power", "20")  # fmt: skip
    assert len(out.strip().splitlines()) == 1 and not out.lstrip().startswith("{")
    if code == 3:
        assert "INFEASIBLE: no candidate meets the constraints (it spends" in out
        assert "over the budget 20 mW" in out and "--refine" in out
    else:
        assert code == 0 and "it meets every constraint" in out


def test_plan_refine_polishes_candidates_to_meet_a_binding_budget(capsys, tmp_path, model):
    out = tmp_path / "refined.json"
    code, _, _ = run(capsys, "plan", "paper-fig3", "--model", str(model), "--candidates", "8",
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


def test_plan_refuses_a_scenario_larger_than_the_model(capsys, model):
    code, _, err = run(capsys, "plan", "default", "--model", str(model))
    assert code == 1 and "at most 2" in err


def test_plan_without_a_model_folder_is_a_clear_error(capsys, tmp_path):
    code, _, err = run(capsys, "plan", "paper-fig3", "--model", str(tmp_path / "none"))
    assert code == 1 and "Traceback" not in err and err.strip()


def test_plan_without_model_and_without_the_shipped_one_says_how_to_build_it(
    capsys, tmp_path, monkeypatch
):
    import diffusion.checkpoint

    monkeypatch.setattr(diffusion.checkpoint, "DEFAULT_MODEL_DIR", tmp_path / "missing")
    code, _, err = run(capsys, "plan", "paper-fig3")
    assert code == 1 and "make model" in err
