"""The ``aign`` command end to end: JSON out, clear errors, exit codes, no tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.cli_run import run

ROOT = Path(__file__).resolve().parents[2]


def test_scenario_check_accepts_every_shipped_scenario(capsys):
    files = sorted(str(p) for p in (ROOT / "scenarios").glob("*.yaml"))
    code, out, _ = run(capsys, "scenario", "check", *files)
    assert code == 0
    assert out.count(": OK") == len(files)


def test_scenario_check_reports_file_line_and_field(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbase_stations: {layout: grid, count: 2}\nusers:\n  count: -4\n")
    code, out, _ = run(capsys, "scenario", "check", str(bad))
    assert code == 1
    assert out.strip() == f"{bad}:4: users.count: Input should be greater than or equal to 1"


def test_scenario_check_refuses_an_unknown_controller_at_its_line(capsys, tmp_path):
    text = (ROOT / "scenarios" / "default.yaml").read_text()
    assert "controller: coordinate" in text
    bad = tmp_path / "typo.yaml"
    bad.write_text(text.replace("controller: coordinate", "controller: coordinat"))
    line = 1 + bad.read_text().splitlines().index(
        next(s for s in bad.read_text().splitlines() if "controller: coordinat" in s))
    code, out, _ = run(capsys, "scenario", "check", str(bad))
    assert code == 1
    assert out.startswith(f"{bad}:{line}: control.controller: unknown controller 'coordinat' "
                          "(did you mean 'coordinate'?)")  # fmt: skip


def test_scenario_check_refuses_wrong_controller_parameters(capsys, tmp_path):
    text = (ROOT / "scenarios" / "default.yaml").read_text()
    bad = tmp_path / "params.yaml"
    bad.write_text(text.replace("controller: coordinate", "controller: 'fixed:power=abc'"))
    code, out, _ = run(capsys, "scenario", "check", str(bad))
    assert code == 1 and "control.controller" in out and ": OK" not in out


def test_scenario_schema_is_json_schema(capsys):
    code, out, _ = run(capsys, "scenario", "schema")
    schema = json.loads(out)
    assert code == 0 and {"users", "channel", "sync"} <= set(schema["properties"])


def test_fig3_instance_solve_evaluate_pipeline(capsys, tmp_path):
    inst, design = tmp_path / "inst.json", tmp_path / "design.json"
    assert run(capsys, "instance", "paper-fig3", "--out", str(inst))[0] == 0
    assert run(capsys, "solve", str(inst), "--method", "exhaustive", "--out", str(design))[0] == 0
    assert json.loads(design.read_text())["power_mw"] == [28.0, 31.0]
    code, out, _ = run(capsys, "evaluate", str(inst), str(design), "--json")
    metrics = json.loads(out)["designs"][0]
    assert code == 0 and metrics["instance_matches"] is True
    assert metrics["utility"] == pytest.approx(24.0922, abs=1e-4)
    assert metrics["total_power_mw"] == 59.0 and metrics["feasible"] is True


def test_simulate_writes_outputs_and_is_reproducible(capsys, tmp_path):
    args = ["simulate", "paper-fig3", "--controller", "coordinate", "--json", "--quiet"]
    code, out_a, _ = run(capsys, *args, "--out", str(tmp_path / "a"))
    _, out_b, _ = run(capsys, *args, "--out", str(tmp_path / "b"))
    assert code == 0 and out_a == out_b
    assert {p.name for p in (tmp_path / "a").iterdir()} == {
        "kpis.csv",
        "powers.csv",
        "summary.json",
    }
    assert (tmp_path / "a" / "kpis.csv").read_bytes() == (tmp_path / "b" / "kpis.csv").read_bytes()
    assert json.loads(out_a)["mean_utility"] == pytest.approx(24.0922, abs=1e-4)


def test_design_of_wrong_length_is_refused_and_nothing_written(capsys, tmp_path):
    inst = tmp_path / "inst.json"
    run(capsys, "instance", "paper-fig3", "--out", str(inst))
    design = tmp_path / "d.json"
    design.write_text(json.dumps({"power_mw": [1, 2, 3], "source": "hand"}))
    code, out, err = run(capsys, "evaluate", str(inst), str(design))
    assert code == 1 and out == ""
    assert "has 3 entries but the instance has 2 users" in err


def test_instance_time_outside_the_scenario_is_an_error(capsys, tmp_path):
    code, _, err = run(
        capsys, "instance", "paper-fig3", "--time", "99", "--out", str(tmp_path / "i")
    )
    assert code == 1 and "outside the scenario" in err
    assert not (tmp_path / "i").exists()


def test_unknown_controller_lists_the_choices(capsys):
    code, _, err = run(capsys, "simulate", "paper-fig3", "--controller", "magic", "--quiet")
    assert code == 1 and "choose one of" in err and "coordinate" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["scenario", "check", "/nonexistent.yaml"],
        ["evaluate", "/nonexistent.json", "/nonexistent.json"],
        ["solve", "README.md"],
        ["simulate", "README.md"],
    ],
)
def test_console_script_fails_cleanly_without_traceback(argv):
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert (proc.stderr + proc.stdout).strip()


# --------------------------------------------------------------------------- issue 16
def test_help_lists_every_command_and_sub_command(capsys):
    from ui.cli.main import build_parser

    text = build_parser().format_help()
    for line in ("aign scenario check", "aign scenario schema", "aign train sac|bcq|diffusion",
                 "aign dataset info", "aign dataset export", "aign plan",
                 "aign deployments", "aign ui"):  # fmt: skip
        assert f"\n  {line}\n" in text, line
    assert "\n  aign benchmark paper|planner" in text
    assert "the diffusion planner" in text  # the train line's help names it too


def test_solve_prints_the_powers_and_json_only_when_asked(capsys, tmp_path):
    inst = tmp_path / "inst.json"
    assert run(capsys, "instance", "paper-fig3", "--out", str(inst))[0] == 0
    code, out, _ = run(capsys, "solve", str(inst), "--method", "exhaustive")
    assert code == 0
    assert out.strip() == ("exhaustive: (28, 31) mW, utility 24.0922, total 59 mW, meets every "
                           "constraint")  # fmt: skip
    code, out, err = run(capsys, "solve", str(inst), "--method", "exhaustive", "--json")
    assert json.loads(out)["power_mw"] == [28.0, 31.0] and "(28, 31) mW" in err


def test_instance_without_out_prints_a_summary_not_json(capsys):
    code, out, _ = run(capsys, "instance", "paper-fig3")
    assert code == 0 and out.startswith("2 users x 1 BSs at t = 0 s") and "--json" in out
    code, out, _ = run(capsys, "instance", "paper-fig3", "--json")
    assert json.loads(out)["gains"] == [[1.4e-12], [1.0e-12]]


def test_plan_summary_says_how_far_an_infeasible_best_is():
    from twin.radio import Constraints
    from ui.cli.planning import plan_summary

    predicted = {"utility": 150.0, "feasible": False, "min_rate_bps": 26_300.0,
                 "total_power_mw": 178.0}  # fmt: skip
    text = plan_summary(predicted, Constraints(min_rate_bps=40_000, max_total_power_mw=160),
                        "coordinate", 160.0, 0.0625)  # fmt: skip
    assert "INFEASIBLE: no candidate meets the constraints" in text
    assert "its lowest user rate is 26.3 kb/s, under the minimum 40 kb/s" in text
    assert "it spends 178 mW, over the budget 160 mW" in text


def test_long_jobs_print_periodic_lines_when_not_on_a_terminal(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AIGN_PROGRESS_EVERY_S", "0.05")
    code, _, err = run(capsys, "collect", "--scenario", "paper-fig3", "--policy", "coordinate",
                       "--episodes", "3", "--batch", "1", "--executor", "local:1",
                       "--out", str(tmp_path / "data"))  # fmt: skip
    lines = err.strip().splitlines()
    assert code == 0 and lines[0] == "aign collect coordinate: started (a line every 0 s)"
    assert lines[-1].startswith("aign collect coordinate: finished after ")


def test_progress_lines_say_how_far_the_job_is(capsys):
    import time

    from ui.cli.common import ProgressLines

    with ProgressLines("job", every_s=0.05) as lines:
        lines.update(30, 120, "loss 0.5")
        time.sleep(0.2)
    err = capsys.readouterr().err
    assert "job: 30/120 steps (25%), 0 s so far, loss 0.5" in err  # no rate from one count
    assert err.strip().splitlines()[-1] == "job: finished after 0 s: 30/120 steps, loss 0.5"
    # the rate counts from the first count (not the start-up) and gives the time left
    lines = ProgressLines("job", enabled=False, unit="episodes")
    lines.update(10, 100)
    lines._first = (time.monotonic() - 10.0, 10)  # 10 s ago, at 10 episodes
    lines.update(30, 100, "return 4.2")
    assert lines.line(60.0) == ("job: 30/100 episodes (30%), 2 episodes/s, ETA 35 s, "
                                "1 min 0 s so far, return 4.2")  # fmt: skip
    with ProgressLines("quiet job", enabled=False, every_s=0.01):
        time.sleep(0.05)
    assert capsys.readouterr().err == ""
