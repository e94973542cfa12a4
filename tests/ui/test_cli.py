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
    code, out, _ = run(capsys, "evaluate", str(inst), str(design))
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
