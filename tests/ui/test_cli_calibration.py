"""``aign calibrate`` and ``--calibration``: the fitted file is used by validate and simulate,
cited in the report, and a file for another scenario or a corrupt one is refused (exit 1)."""

import json

import pytest

from tests.ui.cli_run import run

SCENARIO = """\
name: tinycal
seed: 2
duration_s: 2.0
step_s: 0.1
area: {width_m: 400, height_m: 300}
base_stations: {layout: grid, count: 2}
users: {count: 8, mobility: static}
channel:
  path_loss: {model: log_distance, exponent: 3.2}
  shadowing: {std_db: 6, decorrelation_m: 40}
sync:
  physical_seed: 4
  physical_channel: {path_loss: {model: log_distance, exponent: 3.8, ref_loss_db: 38}}
control: {epoch_s: 0.5, controller: max}
gates: {runs: 3, min_runs: 2, window_s: 1.0}
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIGN_ELEMENT_FAULTS", raising=False)
    scenario = tmp_path / "tinycal.yaml"
    scenario.write_text(SCENARIO)
    design = tmp_path / "design.json"
    design.write_text(json.dumps({"power_mw": [5.0] * 8, "source": "fixed:5"}))
    return {"scenario": str(scenario), "design": str(design), "tmp": tmp_path}


def test_calibrate_writes_a_file_that_validate_cites(capsys, env):
    calib = env["tmp"] / "calib.json"
    code, out, err = run(capsys, "calibrate", env["scenario"], "--reports", "5", "--seed", "1",
                         "--out", str(calib))  # fmt: skip
    assert code == 0 and err == ""
    assert out.startswith(f"wrote {calib}: 5 reports")
    data = json.loads(calib.read_text())
    assert data["format"] == "aign.calibration/1" and data["scenario"]["name"] == "tinycal"

    code, out, _ = run(capsys, "validate", env["scenario"], env["design"], "--calibration",
                       str(calib), "--quiet", "--executor", "local:1", "--json")  # fmt: skip
    report = json.loads(out)
    assert code in (0, 3)
    assert report["calibration"]["reports"] == 5
    assert report["calibration"]["path_loss"]["exponent"] == data["path_loss"]["exponent"]


def test_simulate_runs_the_calibrated_twin(capsys, env):
    calib = env["tmp"] / "calib.json"
    assert run(capsys, "calibrate", env["scenario"], "--out", str(calib))[0] == 0
    code, out, _ = run(capsys, "simulate", env["scenario"], "--calibration", str(calib),
                       "--json", "--quiet")  # fmt: skip
    summary = json.loads(out)
    assert code == 0 and len(summary["calibration"]) == 16
    assert "reports_sent" not in summary  # sync off: the twin simulates its own channel


def test_a_calibration_for_another_scenario_is_refused(capsys, env):
    calib = env["tmp"] / "calib.json"
    assert run(capsys, "calibrate", env["scenario"], "--reports", "3", "--out", str(calib))[0] == 0
    other = env["tmp"] / "other.yaml"
    other.write_text(SCENARIO.replace("name: tinycal", "name: other"))
    code, out, err = run(capsys, "validate", str(other), env["design"], "--calibration",
                         str(calib), "--quiet")  # fmt: skip
    assert code == 1 and out == ""
    assert "fitted for scenario 'tinycal', not 'other'" in err and "Traceback" not in err


def test_a_corrupt_calibration_file_is_refused(capsys, env):
    bad = env["tmp"] / "bad.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "simulate", env["scenario"], "--calibration", str(bad), "--quiet")
    assert code == 1
    assert err.startswith("aign simulate: error: ") and "bad.json:1: invalid JSON" in err


def test_calibrate_with_zero_reports_says_so(capsys, env):
    code, _, err = run(capsys, "calibrate", env["scenario"], "--reports", "0", "--out",
                       str(env["tmp"] / "c.json"))  # fmt: skip
    assert code == 1 and "--reports must be at least 1" in err
