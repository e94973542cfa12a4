"""``aign validate | deploy | deployments | rollback`` end to end: readable summaries, JSON out,
clear refusals (exit 1, no traceback), and recovery after a killed deployment."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ui.cli_run import run

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: tiny
seed: 2
duration_s: 2.0
step_s: 0.1
area: {width_m: 400, height_m: 400}
base_stations: {layout: grid, count: 1}
users: {count: 3, mobility: static}
channel: {path_loss: {model: umi}, fading: {model: rayleigh}}
sync: {enabled: true, report_period_s: 0.1}
control: {epoch_s: 0.5, controller: max}
gates: {runs: 5, min_runs: 5, window_s: 1.0, realized_utility_tolerance: 1000}
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A data directory, a scenario file and a design for it."""
    monkeypatch.setenv("AIGN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIGN_ELEMENT_FAULTS", raising=False)
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO)
    design = tmp_path / "design.json"
    design.write_text(json.dumps({"power_mw": [5.0, 5.0, 5.0], "source": "fixed:5"}))
    return {"scenario": str(scenario), "design": str(design), "tmp": tmp_path}


def test_validate_prints_the_report_as_json_and_can_write_it(capsys, env):
    out_file = env["tmp"] / "report.json"
    code, out, err = run(capsys, "validate", env["scenario"], env["design"], "--out",
                         str(out_file), "--quiet", "--json")  # fmt: skip
    report = json.loads(out)
    assert code == 0 and err.startswith(f"wrote {out_file}\nvalidation of design ")
    assert report["verdict"]["passed"] is True and report["runs"] == 5
    assert set(report) >= {"utility", "improvement", "constraints", "rate_p5_bps", "signature"}
    assert json.loads(out_file.read_text()) == report


def test_validate_summary_is_readable_and_a_failed_verdict_exits_3(capsys, env):
    code, out, _ = run(capsys, "validate", env["scenario"], env["design"], "--runs", "3",
                       "--summary", "--quiet")  # fmt: skip
    assert code == 3
    assert "on tiny: FAILED" in out
    assert "FAIL Monte-Carlo runs: 3 is below 5" in out
    assert "improvement (paired):" in out


def test_deploy_without_validation_is_refused_with_exit_1_and_no_traceback(capsys, env):
    code, out, err = run(capsys, "deploy", env["scenario"], env["design"])
    assert code == 1 and out == ""
    assert err.startswith("aign deploy: error: design ")
    assert "has no validation" in err and "Traceback" not in err


def test_validate_deploy_list_and_roll_back(capsys, env):
    assert run(capsys, "validate", env["scenario"], env["design"], "--quiet")[0] == 0
    code, out, _ = run(capsys, "deploy", env["scenario"], env["design"], "--json")
    outcome = json.loads(out)
    assert code == 0 and outcome["status"] == "kept"
    assert outcome["in_force"]["power_mw"] == [5.0, 5.0, 5.0]

    code, out, _ = run(capsys, "deployments", "--json")
    history = json.loads(out)
    assert code == 0
    assert [(o["kind"], o["status"]) for o in history["operations"]] == [("deploy", "kept")]
    assert history["networks"]["tiny"]["in_force"]["power_mw"] == [5.0, 5.0, 5.0]
    assert history["networks"]["tiny"]["fidelity"]["deployments_observed"] == 1

    code, out, _ = run(capsys, "rollback")  # the only network: no argument needed
    assert code == 0 and "rollback #" in out and "ROLLED BACK" in out
    code, out, _ = run(capsys, "deployments", "--scenario", "tiny", "--all")
    assert "network tiny: in force: design" in out and "factory default" in out
    assert out.count("\n#") == 3  # validation, deployment, rollback


def test_deploy_with_an_altered_report_file_is_refused(capsys, env):
    report = env["tmp"] / "report.json"
    run(capsys, "validate", env["scenario"], env["design"], "--out", str(report), "--quiet")
    data = json.loads(report.read_text())
    data["improvement"]["ci95"][0] = 99.0
    report.write_text(json.dumps(data))
    code, _, err = run(capsys, "deploy", env["scenario"], env["design"], "--report", str(report))
    assert code == 1 and "not signed by this data directory" in err


def test_a_design_for_another_scenario_is_refused_with_its_reason(capsys, env):
    design = env["tmp"] / "other.json"
    design.write_text(json.dumps({"power_mw": [5.0, 5.0], "source": "x",
                                  "provenance": {"scenario": "paper-fig3"}}))  # fmt: skip
    code, _, err = run(capsys, "validate", env["scenario"], str(design))
    assert code == 1
    assert "made for scenario 'paper-fig3', not 'tiny'" in err
    assert "has 2 entries but the scenario has 3 users" in err


def test_a_rejected_configuration_exits_3_and_says_what_is_in_force(capsys, env, monkeypatch):
    run(capsys, "validate", env["scenario"], env["design"], "--quiet")
    monkeypatch.setenv("AIGN_ELEMENT_FAULTS", '{"reject_prob": 1, "reject_reason": "busy"}')
    code, out, _ = run(capsys, "deploy", env["scenario"], env["design"], "--summary")
    assert code == 3
    assert "FAILED" in out and "rejected (busy)" in out and "factory default" in out


def test_bad_fault_settings_are_a_clear_error(capsys, env, monkeypatch):
    monkeypatch.setenv("AIGN_ELEMENT_FAULTS", '{"reject": 1}')
    code, _, err = run(capsys, "deployments")
    assert code == 1 and "AIGN_ELEMENT_FAULTS must be a JSON object with fields" in err


def test_a_log_from_a_newer_aign_is_refused(capsys, env):
    run(capsys, "deployments")
    with sqlite3.connect(Path(os.environ["AIGN_HOME"]) / "deployments.db") as conn:
        conn.execute("PRAGMA user_version = 7")
    code, _, err = run(capsys, "deployments")
    assert code == 1 and "written by a newer aign (schema version 7" in err


def test_killed_deployment_is_reported_by_the_next_command(capsys, env):
    assert run(capsys, "validate", env["scenario"], env["design"], "--quiet")[0] == 0
    db = Path(os.environ["AIGN_HOME"]) / "deployments.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "deploy", env["scenario"], env["design"],
         "--timeout", "120"],
        cwd=ROOT, env={**os.environ, "AIGN_ELEMENT_FAULTS": '{"hang_s": 120}'},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def last_step() -> str | None:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT step FROM log ORDER BY seq DESC LIMIT 1").fetchone()
        return row[0] if row else None

    try:
        deadline = time.monotonic() + 60
        while last_step() != "deploying":
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # while the network element sits on the request
    finally:
        proc.kill()
        proc.wait()

    code, out, err = run(capsys, "deployments", "--summary")
    assert code == 0
    assert "aign: recovered: deployment #2 of design" in err
    assert "was interrupted (last recorded step: deploying)" in err
    assert "the network did not apply it" in err and "is still in force" in err
    assert "recovered" in out and "factory default" in out
    # and the next deployment goes through
    code, out, _ = run(capsys, "deploy", env["scenario"], env["design"], "--json")
    assert code == 0 and json.loads(out)["status"] == "kept"


def test_a_locked_log_refuses_deploy_but_can_still_be_listed(capsys, env, monkeypatch):
    assert run(capsys, "validate", env["scenario"], env["design"], "--quiet")[0] == 0
    monkeypatch.setenv("AIGN_DB_TIMEOUT_S", "0.1")
    home = Path(os.environ["AIGN_HOME"])
    holder = sqlite3.connect(home / "deployments.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, out, err = run(capsys, "deploy", env["scenario"], env["design"])
        assert code == 1 and out == ""
        assert "is locked by another process (waited 0.1 s)" in err
        code, out, err = run(capsys, "deployments", "--all", "--json")
        assert code == 0 and "Listing it read-only" in err
        assert [o["kind"] for o in json.loads(out)["operations"]] == ["validate"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not (home / "network" / "tiny.json").exists()
